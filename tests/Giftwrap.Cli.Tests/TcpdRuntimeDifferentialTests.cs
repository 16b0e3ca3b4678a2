// The run-time differential test: Debian's /usr/sbin/tcpd and `giftwrap-tcpd` each given the same
// kind of real loopback connection as inetd gives it (InetdOnce), in private mount namespaces with the
// same /etc files, compared on everything a client, an administrator or a daemon can see: the bytes
// the client receives (and whether it ends in a reset), the syslog lines with their facility and
// level, what spawned commands wrote, the exit status, and the daemon's uid, gid, umask, nice,
// environment and socket options. The one deliberate difference (user and group applied, which
// Debian's build never does) is its own test.
using System.Text;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class TcpdRuntimeDifferentialTests
{
    private const string Tcpd = "/usr/sbin/tcpd";
    // Names libwrap's own tables lack (authpriv, ftp, security, syslog, warn, error, panic) included:
    // to tcpd they are bad options, which refuse.
    private static readonly string[] Facilities = ["kern", "user", "mail", "daemon", "auth", "lpr", "news", "uucp", "cron", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7", "authpriv", "ftp", "security", "syslog"];
    private static readonly string[] Levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug", "warn", "error", "panic"];

    private static string[] Giftwrap()
    {
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/share/dotnet/dotnet";
        return [dotnet, Path.Combine(AppContext.BaseDirectory, "giftwrap-tcpd.dll")];
    }

    /// <summary>Both wrappers on every case, three cases at a time.</summary>
    private static async Task<(InetdCase Case, Transcript Libwrap, Transcript Giftwrap)[]> RunBothAsync(IReadOnlyList<InetdCase> cases)
    {
        using var slots = new SemaphoreSlim(3);
        return await Task.WhenAll(cases.Select(async c =>
        {
            await slots.WaitAsync();
            try
            {
                var libwrap = InetdOnce.RunAsync(c, [Tcpd], daemonAsArgv0: true);
                var giftwrap = InetdOnce.RunAsync(c, Giftwrap(), daemonAsArgv0: false);
                return (Case: c, Libwrap: await libwrap, Giftwrap: await giftwrap);
            }
            finally
            {
                slots.Release();
            }
        }));
    }

    private static void AssertNoDifferences((InetdCase Case, Transcript Libwrap, Transcript Giftwrap)[] results)
    {
        var differences = results.Where(r => r.Libwrap.ToString() != r.Giftwrap.ToString())
            .Select(r => $"== {r.Case.Name}\n-- libwrap tcpd:\n{r.Libwrap}-- giftwrap-tcpd:\n{r.Giftwrap}").ToList();
        Assert.True(differences.Count == 0, $"{differences.Count} of {results.Length} cases differ:\n{string.Join("\n", differences)}");
    }

    /// <summary>The examples of issue 10 and the cases generated around them.</summary>
    public static IEnumerable<InetdCase> Cases()
    {
        const string all = "ALL: ALL\n";
        yield return new("granted", "svc: 127.0.0.1\n", all);
        yield return new("refused", "", "svc: ALL\n", "127.0.0.2");
        yield return new("granted-by-name", "svc: alpha.test\n", all, "127.0.0.2");
        yield return new("refused-by-name", "svc: nomatch.test\n", "svc: beta.test\n", "127.0.0.3");
        // A name with a byte outside ASCII (0xE9, from /etc/hosts): kept, matched byte for byte, and sent
        // raw by syslog(3) in "connect from NAME (ADDR)".
        yield return new("non-ascii-name", "svc: caf\u00e9.test\n", all, "127.0.0.6");
        // percent_x() sanitises the name in its own buffer: tcpd's "connect from" line after a %h shows caf_.test.
        yield return new("non-ascii-name-expanded", "svc: caf\u00e9.test: spawn echo %h >> DIR/spawned\n", all, "127.0.0.6");
        yield return new("non-ascii-name-twist", "svc: caf\u00e9.test: twist echo %n\n", all, "127.0.0.6");
        yield return new("unknown-name", "svc: UNKNOWN: severity notice\n", all, "127.0.0.4");
        foreach (var f in Facilities)
            yield return new($"facility-{f}", $"svc: ALL: severity {f}.info\n", "");
        foreach (var l in Levels)
            yield return new($"level-{l}", $"svc: 127.0.0.2: severity {l}: deny\n", "", "127.0.0.2");
        yield return new("severity-granted-and-refused", "svc: 127.0.0.1: severity local3.err\n", "svc: ALL: severity mail.notice\n", "127.0.0.3");
        // Warnings and errors: tcpd_warn and tcpd_jump both log at LOG_ERR.
        yield return new("bad-umask", "svc: ALL: umask 0999\n", "");
        yield return new("unrecognized-percent", "svc: ALL: spawn echo %z %a >> DIR/spawned\n", "");
        yield return new("banners-missing-dir", "svc: ALL: banners /nonexistent/banners\n", "");
        yield return new("banners-no-file", "svc: ALL: banners DIR\n", "");
        // Process state and socket options, as the daemon sees them.
        yield return new("process-state", "svc: ALL: nice 5: keepalive: linger 5: umask 027: setenv GW_X bar  baz\n", "");
        yield return new("linger-0", "svc: ALL: linger 0\n", "");
        yield return new("linger-7", "svc: ALL: linger 7: keepalive\n", "");
        yield return new("spawn-state", "svc: ALL: umask 077: setenv GW_X 1: spawn (umask; echo $GW_X %a %h %d) >> DIR/spawned\n", "");
        yield return new("spawn-shell-args", "svc: ALL: spawn echo $0 $# >> DIR/spawned: twist echo $0 $#\n", "");
        // A name looked up late in the rule (%n after %c) is the name tcpd's "connect from" line shows.
        yield return new("spawn-name-late", "svc: ALL: spawn echo %c %a %h %n >> DIR/spawned\n", "", "127.0.0.2");
        yield return new("spawn-refused", "", "svc: ALL: spawn echo refused %a %c >> DIR/spawned\n", "127.0.0.3");
        // twist: its line at deny_severity with eval_client, then /bin/sh on the connection.
        yield return new("twist", "svc: ALL: twist /bin/echo twisted %a %c %d\n", "");
        yield return new("twist-in-deny", "", "svc: 127.0.0.3: severity auth.notice: twist echo go away %h\n", "127.0.0.3");
        yield return new("twist-by-name", "svc: alpha.test: twist echo %h %n\n", "", "127.0.0.2");
        // aclexec: a failed command logs "aclexec returned 1" at daemon.info; a killed one first says so.
        yield return new("aclexec-false", "svc: ALL: aclexec /bin/false\n", "svc: ALL\n");
        yield return new("aclexec-true", "svc: ALL: aclexec /bin/true\n", "svc: ALL\n");
        yield return new("aclexec-killed", "svc: ALL: aclexec kill -9 $$\n", "");
        // A daemon that cannot be executed: tcpd's line, clean_exit(), exit 0.
        yield return new("cannot-execute", "nosuch: ALL\n", "") { Daemon = "DIR/nosuch" };
        foreach (var (name, text) in Banners())
            yield return new($"banner-{name}", "svc: ALL: banners DIR/banners\n", "", "127.0.0.2") { Banner = Encoding.Latin1.GetBytes(text) };
        // Lines and expansions at libwrap's limits.
        yield return new("linger-100000", "svc: ALL: linger 100000\n", "");
        yield return new("line-too-long", "svc: ALL: spawn echo " + new string('s', 2100) + " >> DIR/spawned\n", "");
        yield return new("long-twist-expansion", "svc: ALL: spawn echo before >> DIR/spawned: twist echo " + string.Concat(Enumerable.Repeat("%a", 1000)) + "\n", "");
        // Numbers as glibc's sscanf reads them: wrap-around and sign, not clamping.
        yield return new("linger-2147483648", "svc: ALL: linger 2147483648\n", "");
        yield return new("linger-minus-4294967295", "svc: ALL: linger -4294967295\n", "");
        yield return new("umask-40000000022", "svc: ALL: umask 40000000022\n", "");
        yield return new("nice-4294967301", "svc: ALL: nice 4294967301\n", "");
        yield return new("long-spawn-expansion", "svc: ALL: spawn echo " + string.Concat(Enumerable.Repeat("%a", 1000)) + " >> DIR/spawned\n", "");
        yield return new("banner-refused", "", "svc: ALL: banners DIR/banners\n") { Banner = "go away %a\n"u8.ToArray() };
    }

    private static IEnumerable<(string, string)> Banners()
    {
        yield return ("plain", "Hello %a\nthis is %d\n");
        yield return ("leading-empty-lines", "\n\nafter two empty lines\n");
        yield return ("nul-inside", "ab\0cd\nef\n");
        yield return ("leading-nuls", "\0\0two NULs first\nx\n");
        yield return ("ends-in-percent", "ends in %\nnext\n");
        yield return ("no-final-newline", "no newline at the end%");
        yield return ("brackets", "[bracket\nstill]\nafter\n");
        yield return ("long-line", new string('x', 9000) + "\nend\n");
        yield return ("line-of-8191", new string('x', 8190) + "y\nz\n");
        yield return ("percent-at-piece-end", new string('y', 8189) + "%d\n");
        yield return ("lookups", "%n %N %s %u %h %c %H %d %p\n".Replace("%p", "", StringComparison.Ordinal));
        yield return ("expansion-too-long", "first line\n" + string.Concat(Enumerable.Repeat("%a", 4100)) + "\n");
        yield return ("non-ascii", "caf\u00e9 \u00ff\n");
    }

    [Fact]
    public async Task Tcpd_EveryCase_GiftwrapTcpdBehavesAsLibwrapsTcpd()
    {
        var cases = Cases().ToList();
        var results = await RunBothAsync(cases);
        // Not vacuous: tcpd logged a verdict (or an error) for every case, and the cases differ.
        Assert.All(results, r => Assert.NotEmpty(r.Libwrap.Syslog));
        Assert.True(results.Select(r => r.Libwrap.ToString()).Distinct().Count() > cases.Count / 2);
        AssertNoDifferences(results);
    }

    /// <summary>
    /// Datagram services (`dgram udp wait`): the client from the peeked datagram, no RFC 1413 lookup (%u is
    /// unknown), banners sent nowhere, keepalive and linger set on the UDP socket, and the datagram sunk on
    /// every exit that does not run the daemon, except percent_x()'s own exit.
    /// </summary>
    public static IEnumerable<InetdCase> DatagramCases()
    {
        const string all = "ALL: ALL\n";
        yield return new("udp-granted", "svc: 127.0.0.1\n", all) { Datagram = true };
        yield return new("udp-refused", "", "svc: ALL\n", "127.0.0.2") { Datagram = true };
        yield return new("udp-granted-by-name", "svc: alpha.test\n", all, "127.0.0.2") { Datagram = true };
        yield return new("udp-refused-by-name", "svc: nomatch.test\n", "svc: beta.test\n", "127.0.0.3") { Datagram = true };
        yield return new("udp-server-pattern", "svc@127.0.0.1: 127.0.0.3\n", all, "127.0.0.3") { Datagram = true };
        yield return new("udp-user-pattern", "svc: KNOWN@127.0.0.3\n", all, "127.0.0.3") { Datagram = true };
        yield return new("udp-expansions", "svc: ALL: spawn echo %u %c %a %A %h %H %n %s %d >> DIR/spawned\n", "", "127.0.0.2") { Datagram = true };
        yield return new("udp-severity", "", "svc: ALL: severity local3.err\n", "127.0.0.3") { Datagram = true };
        yield return new("udp-spawn-refused", "", "svc: ALL: spawn echo refused %a %c >> DIR/spawned\n", "127.0.0.3") { Datagram = true };
        yield return new("udp-process-state", "svc: ALL: nice 5: keepalive: linger 5: umask 027: setenv GW_X bar\n", "") { Datagram = true };
        yield return new("udp-twist", "svc: ALL: spawn echo before >> DIR/spawned: twist /bin/echo twisted %a %c\n", "") { Datagram = true };
        yield return new("udp-aclexec-false", "svc: ALL: aclexec /bin/false\n", "svc: ALL\n") { Datagram = true };
        yield return new("udp-bad-umask", "svc: ALL: umask 0999\n", "") { Datagram = true };
        yield return new("udp-cannot-execute", "nosuch: ALL\n", "") { Daemon = "DIR/nosuch", Datagram = true };
        yield return new("udp-banner", "svc: ALL: banners DIR/banners\n", "", "127.0.0.2") { Datagram = true, Banner = "Hello %a %u\n"u8.ToArray() };
        yield return new("udp-banner-refused", "", "svc: ALL: banners DIR/banners\n") { Datagram = true, Banner = "go away %a\n"u8.ToArray() };
        yield return new("udp-banner-expansion-too-long", "svc: ALL: banners DIR/banners\n", "") { Datagram = true, Banner = Encoding.Latin1.GetBytes(string.Concat(Enumerable.Repeat("%a", 4100)) + "\n") };
    }

    [Fact]
    public async Task Tcpd_DatagramService_GiftwrapTcpdDecidesLogsAndSinksAsLibwrapsTcpd()
    {
        var cases = DatagramCases().ToList();
        var results = await RunBothAsync(cases);
        // Not vacuous: the granted daemon answered the client, a refusal sank its datagram, and
        // percent_x()'s exit left it queued.
        var byName = results.ToDictionary(r => r.Case.Name);
        Assert.StartsWith("served ", byName["udp-granted"].Libwrap.Received, StringComparison.Ordinal);
        Assert.Equal(0, byName["udp-refused"].Libwrap.Left);
        Assert.Contains(byName["udp-refused"].Libwrap.Syslog, l => l.Contains("refused connect from 127.0.0.2", StringComparison.Ordinal));
        Assert.Equal(1, byName["udp-banner-expansion-too-long"].Libwrap.Left);
        AssertNoDifferences(results);
    }

    [Fact]
    public async Task TcpdCommand_SomeCases_GiftwrapTcpdCommandBehavesAsLibwrapsTcpd()
    {
        // `giftwrap tcpd` is the same tcpd mode as giftwrap-tcpd, reached through the full command line.
        var dotnet = Giftwrap()[0];
        string[] command = [dotnet, CliRunner.Dll, "tcpd"];
        var names = new[] { "granted-by-name", "facility-mail", "bad-umask", "twist", "aclexec-false", "banner-lookups", "udp-expansions" };
        foreach (var c in Cases().Concat(DatagramCases()).Where(c => names.Contains(c.Name)))
        {
            var libwrap = InetdOnce.RunAsync(c, [Tcpd], daemonAsArgv0: true);
            var giftwrap = InetdOnce.RunAsync(c, command, daemonAsArgv0: false);
            Assert.Equal($"== {c.Name}\n{await libwrap}", $"== {c.Name}\n{await giftwrap}");
        }
    }

    [Fact]
    public async Task Tcpd_Refusal_ClientSeesTheCloseAfterCleanExitsPause_AsWithTcpd()
    {
        // clean_exit.c sleeps 5 s before exit(0): the refused client keeps its connection until then.
        // A lower bound only, measured from the refusal line: load can only make it longer.
        var c = new InetdCase("refused", "", "svc: ALL\n", "127.0.0.2");
        var runs = await Task.WhenAll(InetdOnce.RunAsync(c, [Tcpd], daemonAsArgv0: true), InetdOnce.RunAsync(c, Giftwrap(), daemonAsArgv0: false));
        Assert.All(runs, r => Assert.Equal(0, r.ExitStatus));
        Assert.All(runs, r => Assert.True(r.LogToClose >= TimeSpan.FromSeconds(3), $"closed {r.LogToClose.TotalSeconds:0.0} s after the refusal line"));
    }

    [Fact]
    public async Task Tcpd_UserOption_IsTheOneDeliberateDifference()
    {
        // Debian's libwrap checks user and group but never switches (options.c tests dry_run the
        // wrong way round); Giftwrap applies them, as hosts_options(5) documents.
        var c = new InetdCase("user", "svc: ALL: user nobody\n", "");
        var libwrap = await InetdOnce.RunAsync(c, [Tcpd], daemonAsArgv0: true);
        var giftwrap = await InetdOnce.RunAsync(c, Giftwrap(), daemonAsArgv0: false);
        Assert.Contains(" uid=0 ", libwrap.Received, StringComparison.Ordinal);
        Assert.Contains(" uid=65534 ", giftwrap.Received, StringComparison.Ordinal);
        Assert.Equal(libwrap.Syslog, giftwrap.Syslog);
    }
}
