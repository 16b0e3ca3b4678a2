// More run-time cases for the differential test: every % expansion with client names that hold shell
// metacharacters (from the run's /etc/hosts), what twist, spawn and the daemon inherit (descriptors,
// signal dispositions, directory, environment), option errors and table warnings as logged, IPv6
// and v4-mapped clients, banner directories that are not what they should be, and RFC 1413 answers
// (odd users from identds of the test's own on 127.0.0.20 and up, port 113).
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed partial class TcpdRuntimeDifferentialTests
{
    // Names percent_x() must sanitise, one with % sequences of its own, a name that is an address, a
    // name longer than libwrap's 128-byte buffers, and a name for ::1.
    private const string AuditHosts = "127.0.0.7\ta;b|c&d$(id)`x`\"q\"<>\\~*?'.test\n127.0.0.8\tpct%a%%%h.test\n"
        + "127.0.0.9\t127.0.0.10\n127.0.0.11\tMiXeD.Test\n::1\tsix.test\n";

    private const string AliasHosts = "127.0.0.14\tcanon.test alias.test\n127.0.0.13\talias.test\n";

    // Prints its arguments as Python sees them: the exact words the shell made of an expansion.
    private const string ArgvScript = "#!/usr/bin/python3\nimport sys\nprint(sys.argv[1:])\n";

    // Prints what a process inherits: descriptors, directory, mask, nice, identity, environment, and (read by
    // a program the shell execs: the shell's own mask changes around its children) ignored and blocked signals
    // (dash clears the mask it starts with, so the inherited one cannot be seen through it).
    private const string StateScript = """
        #!/bin/sh
        echo "argv=$*"
        echo "cwd=$(pwd)"
        for f in /proc/$$/fd/*; do echo "fd ${f##*/} $(readlink $f)"; done
        echo "umask=$(umask) nice=$(nice)"
        grep -E '^(Uid|Gid|Groups|NoNewPrivs|CapEff)' /proc/$$/status
        env | sort
        exec grep -E '^Sig(Blk|Ign)' /proc/self/status

        """;

    private static readonly Dictionary<string, byte[]?> Scripts = new()
    {
        ["argv"] = Encoding.ASCII.GetBytes(ArgvScript),
        ["state"] = Encoding.ASCII.GetBytes(StateScript),
    };

    private const string Every = "%a %A %c %d %h %H %n %N %s %u %% %x %";

    public static IEnumerable<InetdCase> AuditCases()
    {
        foreach (var client in new[] { "127.0.0.2", "127.0.0.7", "127.0.0.8", "127.0.0.11" })
        {
            yield return new($"spawn-every-{client}", $"svc: ALL: spawn DIR/argv {Every} >> DIR/spawned\n", "", client) { ExtraHosts = AuditHosts, Files = Scripts };
            yield return new($"twist-every-{client}", $"svc: ALL: twist DIR/argv {Every}\n", "", client) { ExtraHosts = AuditHosts, Files = Scripts };
            yield return new($"banner-every-{client}", "svc: ALL: banners DIR/banners\n", "", client) { ExtraHosts = AuditHosts, Banner = Encoding.ASCII.GetBytes(Every + "\n%a%\n") };
            yield return new($"setenv-every-{client}", $"svc: ALL: setenv GW_%d {Every}\n", "", client) { ExtraHosts = AuditHosts };
        }
        yield return new("spawn-pid", "svc: ALL: spawn (test %p = $PPID && echo parent) >> DIR/spawned\n", "") { Files = Scripts };
        yield return new("percent-odd", "svc: ALL: spawn DIR/argv a% b %- %0 %Z %%% >> DIR/spawned: twist DIR/argv end%\n", "") { Files = Scripts };
        // What each program inherits.
        yield return new("daemon-state", "ALL: ALL\n", "") { Daemon = "DIR/state", Files = Scripts };
        yield return new("twist-state", "svc: ALL: umask 037: nice 3: setenv GW_X y: twist DIR/state\n", "") { Files = Scripts };
        yield return new("spawn-state-full", "svc: ALL: nice 2: spawn DIR/state >> DIR/spawned\n", "") { Files = Scripts };
        // With options that need the socket (the runtime's own descriptors must not reach the programs).
        yield return new("daemon-state-socket", "ALL: ALL: keepalive: linger 3: banners DIR/banners\n", "") { Daemon = "DIR/state", Files = Scripts, Banner = "hi\n"u8.ToArray() };
        yield return new("twist-state-socket", "svc: ALL: keepalive: banners DIR/banners: twist DIR/state\n", "") { Files = Scripts, Banner = "hi\n"u8.ToArray() };
        yield return new("spawn-state-socket", "svc: ALL: linger 2: spawn DIR/state >> DIR/spawned\n", "") { Files = Scripts };
        yield return new("aclexec-state", "svc: ALL: aclexec DIR/state >> DIR/spawned\n", "") { Files = Scripts };
        yield return new("nice-minus-spawn", "svc: ALL: severity local1.notice: nice -3: nice 1: spawn DIR/state >> DIR/spawned\n", "") { Files = Scripts };
        yield return new("setenv-override", "svc: ALL: setenv HOME /gw: setenv GW_X 1: setenv GW_X 2: twist DIR/state\n", "") { Files = Scripts };
        yield return new("aclexec-then-spawn", "svc: ALL: spawn echo first >> DIR/spawned: aclexec echo acl >> DIR/spawned\n", "");
        yield return new("twist-sockopts", "svc: ALL: keepalive: linger 4: twist DIR/svc\n", "");
        yield return new("twist-exit-status", "svc: ALL: twist exit 7\n", "");
        yield return new("spawn-waited", "svc: ALL: spawn sleep 1; echo spawn >> DIR/spawned: twist echo twist >> DIR/spawned\n", "");
        yield return new("spawn-killed", "svc: ALL: spawn kill -9 $$\n", "");
        yield return new("spawn-fails", "svc: ALL: spawn exit 3\n", "");
        // Option errors as tcpd logs them.
        foreach (var (name, options) in BadOptions())
            yield return new($"option-{name}", $"svc: ALL: {options}\n", "");
        // Table warnings.
        yield return new("missing-separator", "foo bar\nsvc: ALL\n", "");
        yield return new("pattern-file-not-dir", "svc: DIR/argv/x\n", "svc: ALL\n") { Files = Scripts };
        yield return new("name-is-address", "svc: ALL: spawn echo %h %n >> DIR/spawned\n", "", "127.0.0.9") { ExtraHosts = AuditHosts };
        yield return new("name-is-address-paranoid", "svc: PARANOID\n", "", "127.0.0.9") { ExtraHosts = AuditHosts };
        yield return new("long-name", "svc: ALL: spawn echo %h >> DIR/spawned\n", "", "127.0.0.12") { ExtraHosts = "127.0.0.12\t" + new string('l', 200) + ".test\n" };
        yield return new("mixed-case-name", "svc: mixed.test: spawn echo %h >> DIR/spawned\n", "", "127.0.0.11") { ExtraHosts = AuditHosts };
        // 127.0.0.13's name is an alias whose canonical name differs: libwrap's name/name check makes it paranoid.
        yield return new("alias-paranoid", "svc: ALL: spawn echo %h %n %c >> DIR/spawned\n", "", "127.0.0.13") { ExtraHosts = AliasHosts };
        yield return new("alias-paranoid-refused", "", "svc: PARANOID: spawn echo %h >> DIR/spawned\n", "127.0.0.13") { ExtraHosts = AliasHosts };
        // %r and %R are ports (Debian's percent_x has them): the server's is the listener's, the client's its own.
        yield return new("ports", "svc: ALL: spawn test %R = $(cat DIR/port) && test %r -gt 1023 && test %r != %R && echo ports >> DIR/spawned\n", "");
        yield return new("keywords-any-case", "svc: ALL: SPAWN echo upper >> DIR/spawned: Severity local1.notice: TWIST echo twisted\n", "");
        yield return new("setenv-blanks", "svc: ALL: setenv   GW_X   a  b  \n", "");
        yield return new("banners-relative", "svc: ALL: banners no-such-relative-dir\n", "");
        yield return new("daemon-relative", "gwnosuch: ALL\n", "") { Daemon = "gwnosuch" };
        yield return new("daemon-is-directory", "banners: ALL\n", "") { Daemon = "DIR/banners" };
        // IPv6 and v4-mapped clients.
        yield return new("v6-granted", $"svc: [::1]/128: spawn DIR/argv {Every} >> DIR/spawned\n", "ALL: ALL\n", "::1") { Listen = "::1", ExtraHosts = AuditHosts, Files = Scripts };
        yield return new("v6-by-name", "svc: six.test\n", "ALL: ALL\n", "::1") { Listen = "::1", ExtraHosts = AuditHosts };
        yield return new("v6-refused", "", "svc: [::1]\n", "::1") { Listen = "::1", ExtraHosts = AuditHosts };
        yield return new("v6-no-name", "svc: [::]/0: twist echo %a %h %c\n", "", "::1") { Listen = "::1" };
        yield return new("v4-mapped", $"svc: 127.0.0.2: spawn DIR/argv {Every} >> DIR/spawned\n", "ALL: ALL\n", "127.0.0.2") { Listen = "::", Files = Scripts };
        yield return new("v4-mapped-refused", "", "svc: 127.0.0.3\n", "127.0.0.3") { Listen = "::" };
        yield return new("v4-mapped-v6-pattern", "svc: [::ffff:127.0.0.2]\n", "ALL: ALL\n", "127.0.0.2") { Listen = "::" };
        yield return new("v4-mapped-banner", "svc: ALL: banners DIR/banners\n", "", "127.0.0.2") { Listen = "::", Banner = "%a %h %c\n"u8.ToArray() };
        // Banner directories and files that are not what they should be.
        yield return new("banner-is-directory", "svc: ALL: banners DIR/banners\n", "") { Files = new Dictionary<string, byte[]?> { ["banners/svc"] = null } };
        yield return new("banners-dir-is-file", "svc: ALL: banners DIR/argv\n", "") { Files = Scripts };
        yield return new("banners-twice", "svc: ALL: banners DIR/banners: banners DIR/banners\n", "") { Banner = "once %d\n"u8.ToArray() };
        yield return new("banners-then-twist", "svc: ALL: banners DIR/banners: twist echo after\n", "") { Banner = "first\n"u8.ToArray() };
    }

    private static IEnumerable<(string, string)> BadOptions()
    {
        yield return ("nice-abc", "nice abc");
        yield return ("nice-empty", "nice");
        yield return ("nice-minus", "nice -3");
        yield return ("unknown", "frobnicate");
        yield return ("unknown-value", "frobnicate 3");
        yield return ("allow-then-twist", "allow: twist echo x");
        yield return ("twist-then-allow", "twist echo x: allow");
        yield return ("deny-value", "deny x");
        yield return ("keepalive-value", "keepalive 3");
        yield return ("spawn-empty", "spawn");
        yield return ("umask-empty", "umask");
        yield return ("severity-empty", "severity");
        yield return ("severity-bogus", "severity bogus");
        yield return ("setenv-empty", "setenv");
        yield return ("setenv-name-only", "setenv GW_X");
        yield return ("setenv-equals", "setenv A=B c");
        yield return ("banners-empty", "banners");
        yield return ("rfc931-abc", "rfc931 abc");
        yield return ("linger-empty", "linger");
        yield return ("linger-abc", "linger abc");
        yield return ("user-unknown", "user nosuchuser");
        yield return ("user-group-unknown", "user nobody.nosuchgroup");
        yield return ("group-unknown", "group nosuchgroup");
        yield return ("upper-case", "ALLOW");
        yield return ("spaced", "  allow  ");
        yield return ("spawn-then-error", "spawn echo ran >> DIR/spawned: nice abc");
        yield return ("aclexec-empty", "aclexec");
        yield return ("empty-option", "allow::");
    }

    public static IEnumerable<InetdCase> AuditDatagramCases()
    {
        yield return new("udp-spawn-every", $"svc: ALL: spawn DIR/argv {Every} >> DIR/spawned\n", "", "127.0.0.7") { Datagram = true, ExtraHosts = AuditHosts, Files = Scripts };
        yield return new("udp-twist-every", $"svc: ALL: twist DIR/argv {Every} >> DIR/spawned\n", "", "127.0.0.8") { Datagram = true, ExtraHosts = AuditHosts, Files = Scripts };
        yield return new("udp-setenv", "svc: ALL: setenv GW_%d %h\n", "", "127.0.0.7") { Datagram = true, ExtraHosts = AuditHosts };
        yield return new("udp-nice-minus", "svc: ALL: nice -2\n", "") { Datagram = true };
        yield return new("udp-option-error", "svc: ALL: frobnicate\n", "") { Datagram = true };
        yield return new("udp-daemon-state", "ALL: ALL: spawn DIR/state >> DIR/spawned\n", "") { Datagram = true, Files = Scripts };
    }

    // RFC 1413 answers, one identd per client address (127.0.0.20 and up), each listening on port 113 there.
    private static readonly string[] IdentReplies =
    [
        "USERID : UNIX : al;ce$(id)",
        "USERID : UNIX :   spaced user  ",
        "ERROR : NO-USER",
        "USERID : UNIX : " + new string('u', 300),
        "USERID : OTHER,UTF-8 : caf\u00e9",
        "garbage",
    ];

    public static IEnumerable<InetdCase> IdentCases()
    {
        for (var i = 0; i < IdentReplies.Length; i++)
        {
            var client = $"127.0.0.{20 + i}";
            yield return new($"ident-{i}", "svc: ALL: rfc931 3: spawn DIR/argv %u %c >> DIR/spawned\n", "", client) { Files = Scripts };
            yield return new($"ident-banner-{i}", "svc: KNOWN@ALL: banners DIR/banners\n", "", client) { Banner = "%u %c\n"u8.ToArray() };
        }
    }

    /// <summary>A small identd on 127.0.0.N:113 answering "PORTS : REPLY" to every query.</summary>
    private static async Task ServeIdentAsync(System.Net.Sockets.TcpListener listener, string reply, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            using var client = await listener.AcceptTcpClientAsync(ct);
            var stream = client.GetStream();
            var buf = new byte[512];
            var n = await stream.ReadAsync(buf, ct);
            var query = Encoding.Latin1.GetString(buf, 0, n).TrimEnd('\r', '\n');
            await stream.WriteAsync(Encoding.Latin1.GetBytes($"{query} : {reply}\r\n"), ct);
        }
    }

    [Fact]
    public async Task Tcpd_RfcIdent_GiftwrapTcpdAsksAndShowsTheUserAsLibwrapsTcpd()
    {
        using var stop = new CancellationTokenSource();
        var listeners = IdentReplies.Select((_, i) => new System.Net.Sockets.TcpListener(System.Net.IPAddress.Parse($"127.0.0.{20 + i}"), 113)).ToList();
        listeners.ForEach(l => l.Start());
        var servers = listeners.Select((l, i) => ServeIdentAsync(l, IdentReplies[i], stop.Token)).ToList();
        try
        {
            var cases = IdentCases().ToList();
            var results = new List<(InetdCase Case, Transcript Libwrap, Transcript Giftwrap)>();
            foreach (var c in cases)
                results.Add((c, await InetdOnce.RunAsync(c, [Tcpd], daemonAsArgv0: true), await InetdOnce.RunAsync(c, Giftwrap(), daemonAsArgv0: false)));
            var differences = results.Where(r => r.Libwrap.ToString() != r.Giftwrap.ToString())
                .Select(r => $"== {r.Case.Name}\n-- libwrap tcpd:\n{r.Libwrap}-- giftwrap-tcpd:\n{r.Giftwrap}").ToList();
            Assert.True(differences.Count == 0, $"{differences.Count} of {cases.Count} cases differ:\n{string.Join("\n", differences)}");
            // Not vacuous: libwrap asked the identd and took its user.
            Assert.Contains("'al_ce__id_'", results[0].Libwrap.Spawned, StringComparison.Ordinal);
        }
        finally
        {
            await stop.CancelAsync();
            listeners.ForEach(l => l.Stop());
            await Task.WhenAll(servers.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        }
    }

    [Fact]
    public async Task Tcpd_AuditCases_GiftwrapTcpdBehavesAsLibwrapsTcpd()
    {
        var cases = AuditCases().Concat(AuditDatagramCases()).ToList();
        var results = await RunBothAsync(cases);
        Assert.All(results, r => Assert.NotEmpty(r.Libwrap.Syslog));
        // Not vacuous: what each group of cases is about did happen under libwrap.
        var byName = results.ToDictionary(r => r.Case.Name, r => r.Libwrap);
        Assert.Equal("ports\n", byName["ports"].Spawned);
        Assert.Contains("'a_b_c_d__id__x__q________.test'", byName["spawn-every-127.0.0.7"].Spawned, StringComparison.Ordinal);
        Assert.Contains("connect from a_b_c_d__id__x__q________.test (127.0.0.7)", byName["banner-every-127.0.0.7"].Syslog[^1], StringComparison.Ordinal);
        Assert.Contains("(::ffff:127.0.0.3)", byName["v4-mapped-refused"].Syslog[0], StringComparison.Ordinal);
        Assert.Contains("nice(-3): Success", byName["option-nice-minus"].Syslog[0], StringComparison.Ordinal);
        Assert.Contains("SigIgn:\t0000000000000201", byName["spawn-state-full"].Spawned, StringComparison.Ordinal);
        Assert.Contains("SigIgn:\t0000000000000200", byName["daemon-state"].Received, StringComparison.Ordinal);
        Assert.Contains("fd 0 socket:[N]", byName["aclexec-state"].Spawned, StringComparison.Ordinal);
        AssertNoDifferences(results);
    }
}
