// A battery of wrong invocations and configurations, run as real `giftwrap` processes (some
// as the user nobody, through setpriv): none may print a .NET stack trace, each names
// file:line:column where there is one, and each exits with the status giftwrap(8) documents
// (2 usage, 78 serve's configuration, 1 an operation that could not be done; for check 1,
// for ban/unban/bans 2 on a configuration error).
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class OperatorErrorTests
{
    /// <summary>
    /// One wrong invocation: the configuration written to {conf} (null: none), the arguments
    /// ({conf}, {dir}, {port} and {busy} replaced), the exit status, and texts the output must hold.
    /// </summary>
    public sealed record Case(string? Conf, string[] Args, int Exit, string[] Expect)
    {
        public bool AsNobody { get; init; }
        public Dictionary<string, string> Environment { get; init; } = [];
    }

    private const string Service = "[log]\nsyslog = off\n[tables]\nallow = {dir}/hosts.allow\ndeny = {dir}/hosts.deny\n[service:x]\nlisten = 127.0.0.1:{port}\nforward = 127.0.0.1:1\n";

    public static readonly Dictionary<string, Case> Cases = new()
    {
        // Configuration mistakes: errors with file:line:column, all at once, exit 78 (EX_CONFIG).
        ["unknown key deamon"] = new("[service:x]\ndeamon = x\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:2:1: unknown key \"deamon\" in [service:x] (did you mean daemon?)"]),
        ["misspelt limits key"] = new(Service + "[limits]\nmax_conections = 5\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:10:1: unknown key \"max_conections\" in [limits] (did you mean max_connections?)"]),
        ["misspelt service section"] = new(Service + "[servce:web]\nlisten = 127.0.0.1:2\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:9:1: unknown section [servce:web] (did you mean [service:web]?)"]),
        ["kernel port with two colons"] = new(Service + "[kernel]\nports = sshd:22:33\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:10:9: ports: \"sshd:22:33\" is not daemon:port or port (1..65535)"]),
        ["section table"] = new("[table]\nallow = /x\n" + Service, ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:1:1: unknown section [table] (did you mean [tables]?)"]),
        ["section written twice"] = new(Service + "[tables]\nalow = /etc/hosts.allow\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:9:1: section [tables] appears twice (first at line 3): merge them"]),
        ["tables alow alone"] = new("[tables]\nalow = /tmp/a\n" + Service.Replace("[tables]\nallow = {dir}/hosts.allow\ndeny = {dir}/hosts.deny\n", "", StringComparison.Ordinal), ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:2:1: unknown key \"alow\" in [tables] (did you mean allow?)"]),
        ["every error at once"] = new(Service + "[bans\nstore\n[limits]\nmax_per_source = 0\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:9:1: malformed section header \"[bans\"", "{conf}:10:1: \"store\" is not key = value", "{conf}:12:18: max_per_source = 0: must be a whole number from 1", "3 error(s)"]),
        ["duplicate key"] = new(Service + "[limits]\nmax_per_source = 5\nmax_per_source = 6\n", ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:11:1: max_per_source is set twice in [limits] (first at line 10)"]),
        ["localhost listen"] = new(Service.Replace("127.0.0.1:{port}", "localhost:31800", StringComparison.Ordinal), ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:7:10: listen = localhost:31800: \"localhost:31800\": host names are not looked up here; write the address, such as 127.0.0.1:31800"]),
        ["port out of range"] = new(Service.Replace("127.0.0.1:{port}", "127.0.0.1:99999", StringComparison.Ordinal), ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:7:10: listen = 127.0.0.1:99999: \"127.0.0.1:99999\": port 99999 is out of range (1 to 65535)"]),
        ["bad ban_time stops serve"] = new(Service + "[bans]\nban_time = 1x\n", ["serve", "--config", "{conf}"], 78,
            ["{conf}:10:12: ban_time = 1x: must be a duration", "nothing started"]),
        ["environment override named"] = new(Service, ["serve", "--config", "{conf}", "--check-config"], 78,
            ["environment variable GIFTWRAP_limits__max_connections: max_connections = 0: must be a whole number"])
        {
            Environment = { ["GIFTWRAP_limits__max_connections"] = "0" },
        },
        ["switch override named"] = new(Service, ["serve", "--config", "{conf}", "--check-config", "--limits:decision_timeout=soon"], 78,
            ["switch --limits:decision_timeout=soon: decision_timeout = soon: must be a duration"]),
        ["config is a directory"] = new(null, ["serve", "--config", "{dir}", "--check-config"], 78, ["is a directory, not a configuration file"]),
        ["config missing"] = new(null, ["serve", "--config", "{dir}/nope.conf", "--check-config"], 78, ["{dir}/nope.conf: no such file"]),
        ["config unreadable to nobody"] = new(Service, ["serve", "--config", "{dir}/secret.conf", "--check-config"], 78, ["{dir}/secret.conf: cannot read the configuration: permission denied"])
        {
            AsNobody = true,
        },
        // A configuration or inetd.conf that is no regular file is refused in words: a FIFO is never waited on
        // (it hung in open(2)), a device never read without end (/dev/zero ran out of memory).
        ["config is a FIFO"] = new(null, ["serve", "--config", "{dir}/fifo", "--check-config"], 78, ["{dir}/fifo: cannot read the configuration: a FIFO, not a regular file"]),
        ["config is /dev/zero"] = new(null, ["serve", "--config", "/dev/zero", "--check-config"], 78, ["/dev/zero: cannot read the configuration: a character device, not a regular file"]),
        ["check --config FIFO"] = new(null, ["check", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "--config", "{dir}/fifo"], 1,
            ["{dir}/fifo: error: cannot read the configuration: a FIFO, not a regular file"]),
        ["check -i FIFO"] = new(null, ["check", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "--no-dns", "-i", "{dir}/fifo"], 1,
            ["{dir}/fifo: error: open {dir}/fifo: a FIFO, not a regular file"]),
        ["serve --inetd /dev/zero"] = new(null, ["serve", "--inetd", "/dev/zero", "--config", "{dir}/nope.conf", "--check-config"], 78,
            ["/dev/zero: cannot read: a character device, not a regular file"]),
        ["decision log is a FIFO"] = new(Service.Replace("syslog = off\n", "syslog = off\ndecisions = {dir}/fifo\n", StringComparison.Ordinal), ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:3:13: decisions = {dir}/fifo: a FIFO, not a regular file"]),
        // A NUL byte in a value: an error at its place, not "configuration OK" and then an internal error at start.
        ["NUL in a table path"] = new(Service.Replace("hosts.allow", "hosts\0.allow", StringComparison.Ordinal), ["serve", "--config", "{conf}", "--check-config"], 78,
            ["{conf}:4:9: allow = {dir}/hosts\0.allow: contains a NUL byte (remove it)"]),

        // Usage errors: exit 2.
        ["serve --bogus"] = new(Service, ["serve", "--config", "{conf}", "--bogus"], 2, ["unknown option --bogus"]),
        ["no such command"] = new(null, ["bogus"], 2, ["bogus"]),
        ["match unknown option"] = new(null, ["match", "--bogus", "sshd", "1.2.3.4"], 2, ["usage error; see giftwrap match --help"]),
        ["check extra argument"] = new(null, ["check", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "extra"], 2, ["extra"]),
        ["ban bad address"] = new(null, ["ban", "300.1.1.1", "--config", "{dir}/nope.conf"], 2, ["300.1.1.1"]),

        // The lockout check fails closed: exit 1 with the reason.
        ["check missing config"] = new(null, ["check", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "--config", "{dir}/nope.conf"], 1,
            ["{dir}/nope.conf: error: no such file", "the lockout check of [safety] keep was not made"]),
        ["check broken safety header"] = new("[safety\nkeep = 10.0.0.1\n", ["check", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "--config", "{conf}"], 1,
            ["{conf}:1:1: error: malformed section header \"[safety\""]),
        ["check misspelt keep"] = new("[safety]\nkep = 10.0.0.1\n", ["check", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "--config", "{conf}"], 1,
            ["{conf}:2:1: error: unknown key \"kep\" in [safety] (did you mean keep?)"]),

        // ban writes nowhere on a broken configuration (exit 2), and says why a store cannot be used (exit 1).
        ["ban broken bans header"] = new("[bans\nstore = {dir}/store\n", ["ban", "192.0.2.7", "--config", "{conf}"], 2,
            ["{conf}:1:1: malformed section header \"[bans\"", "the ban store was not touched"]),
        ["ban store without equals"] = new("[bans]\nstore {dir}/store\n", ["ban", "192.0.2.7", "--config", "{conf}"], 2,
            ["{conf}:2:1: \"store {dir}/store\" is not key = value"]),
        ["ban store is a file"] = new("[bans]\nstore = {dir}/hosts.allow\n", ["ban", "192.0.2.7", "--config", "{conf}"], 1,
            ["{conf}:2:9: ban store {dir}/hosts.allow is a file, not a directory"]),
        ["ban store uncreatable"] = new("[bans]\nstore = /proc/self/giftwrap/store\n", ["ban", "192.0.2.7", "--config", "{conf}"], 1,
            ["{conf}:2:9: ban store /proc/self/giftwrap/store does not exist and cannot be made"]),
        ["ban as nobody"] = new("[bans]\nstore = {dir}/root-store\n", ["ban", "192.0.2.7", "--config", "{conf}"], 1,
            ["{conf}:2:9: ban store {dir}/root-store: permission denied; run it as root"]) { AsNobody = true },
        ["unban as nobody"] = new("[bans]\nstore = {dir}/root-store\n", ["unban", "192.0.2.8", "--config", "{conf}"], 1,
            ["{conf}:2:9: ban store {dir}/root-store: permission denied; run it as root"]) { AsNobody = true },
        ["bans as nobody"] = new("[bans]\nstore = {dir}/root-store\n", ["bans", "--config", "{conf}"], 1,
            ["{conf}:2:9: ban store {dir}/root-store: permission denied"]) { AsNobody = true },

        // serve refuses to start when bans cannot be honoured or a port cannot be had (exit 1).
        ["serve store is a file"] = new(Service + "[bans]\nstore = {dir}/hosts.allow\n", ["serve", "--config", "{conf}"], 1,
            ["{conf}:10:9: ban store {dir}/hosts.allow is a file, not a directory", "not starting"]),
        ["serve store unreadable"] = new(Service + "[bans]\nstore = {dir}/root-store\n", ["serve", "--config", "{conf}"], 1,
            ["{conf}:10:9: ban store {dir}/root-store: permission denied", "not starting"]) { AsNobody = true },
        ["serve busy port"] = new(Service.Replace("{port}", "{busy}", StringComparison.Ordinal), ["serve", "--config", "{conf}"], 1,
            ["{conf}:7:10: cannot listen on 127.0.0.1:{busy} (service x): the address is already in use"]),

        // Non-root edit: one line, exit 1.
        ["edit as nobody"] = new(null, ["edit", "allow", "--allow", "{dir}/hosts.allow", "--deny", "{dir}/hosts.deny", "--yes"], 1,
            ["giftwrap edit: cannot edit {dir}/hosts.allow: permission denied"]) { AsNobody = true },
    };

    public static TheoryData<string> Names() => [.. Cases.Keys];

    [Theory]
    [MemberData(nameof(Names))]
    public void WrongInvocation_OneLineInWords_NoStackTrace_DocumentedStatus(string name)
    {
        var c = Cases[name];
        using var dir = new TempDir();
        // nobody must reach the files: the directory is world-readable, the store and the secret are not.
        File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101);
        dir.Write("hosts.allow", "ALL: ALL\n");
        dir.Write("hosts.deny", "");
        Assert.Equal(0, Loopback.MakeFifo(Path.Combine(dir.Path, "fifo")));
        var store = Directory.CreateDirectory(Path.Combine(dir.Path, "root-store")).FullName;
        File.SetUnixFileMode(store, (UnixFileMode)0b111_101_000);
        using var busy = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        busy.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        busy.Listen();
        var port = Loopback.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var busyPort = ((IPEndPoint)busy.LocalEndPoint!).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var conf = Path.Combine(dir.Path, "giftwrap.conf");
        string Fill(string s) => s.Replace("{conf}", conf, StringComparison.Ordinal).Replace("{dir}", dir.Path, StringComparison.Ordinal)
            .Replace("{port}", port, StringComparison.Ordinal).Replace("{busy}", busyPort, StringComparison.Ordinal);
        if (c.Conf is not null)
        {
            File.WriteAllText(conf, Fill(c.Conf));
            File.WriteAllText(Path.Combine(dir.Path, "secret.conf"), Fill(c.Conf));
            File.SetUnixFileMode(Path.Combine(dir.Path, "secret.conf"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        if (name == "edit as nobody")
            File.SetUnixFileMode(dir.Path, (UnixFileMode)0b111_101_101); // nobody may read the tables, not write beside them

        var r = Run(c.AsNobody, c.Environment, [.. c.Args.Select(Fill)]);
        var output = r.Stdout + r.Stderr;
        Assert.False(StackFrame().IsMatch(output), $"{name}: a stack trace:\n{output}");
        Assert.DoesNotContain("Exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("errno", output, StringComparison.Ordinal);
        Assert.True(c.Exit == r.ExitCode, $"{name}: exit {r.ExitCode}, documented {c.Exit}:\n{output}");
        foreach (var e in c.Expect)
            Assert.True(output.Contains(Fill(e), StringComparison.Ordinal), $"{name}: expected \"{Fill(e)}\" in:\n{output}");
        if (name.StartsWith("ban ", StringComparison.Ordinal) || name == "bans as nobody")
        {
            // Nothing written, nothing claimed: no "banned", no "no active bans" from a store that was not read.
            Assert.DoesNotContain("banned ", r.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("no active bans", r.Stdout, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(dir.Path, "store", "journal")), $"{name}: a ban was written");
        }
    }

    [Fact]
    public void CheckConfig_DurationInWeeks_AcceptedAsInARule()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", $"[log]\nsyslog = off\n[service:x]\nlisten = 127.0.0.1:{Loopback.FreePort()}\nforward = 127.0.0.1:1\n[limits]\ndecision_timeout = 1w\n[bans]\nmax_time = 2w\nstore = {dir.Path}/store\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("configuration OK", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SecondGate_SameAddress_FailsToStartNamingTheAddressAndLine()
    {
        using var dir = new TempDir();
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[service:x]\nlisten = 127.0.0.1:{port}\nforward = 127.0.0.1:1\n");
        using var first = new ServeProcess(conf, drainSeconds: 1);
        await first.WaitForAsync("listening on", TimeSpan.FromSeconds(30));
        // Without SO_REUSEPORT the second bind fails: two gates never split one address.
        var second = Run(false, [], ["serve", "--config", conf]);
        Assert.True(second.ExitCode == 1, second.Stderr);
        Assert.Contains($"{conf}:7:10: cannot listen on 127.0.0.1:{port} (service x): the address is already in use", second.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ServeHelp_ListsEveryKeyOfTheSchema_WithItsDocLine()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run(dir.Path, "serve", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (var section in Giftwrap.Configuration.ConfigSchema.Sections)
        {
            Assert.Contains($"  [{section.Name}{(section.Labelled ? ":NAME" : "")}]  {section.Doc}", r.Stdout, StringComparison.Ordinal);
            foreach (var key in section.Keys)
                Assert.Contains($"    {key.Name} = {Giftwrap.Configuration.ConfigSchema.Shape(key.Kind)}  {key.Doc}", r.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void MissingTable_WarnedInCheckAndMatch()
    {
        using var dir = new TempDir();
        dir.Write("hosts.deny", "");
        var check = CliRunner.Run(dir.Path, "check", "--allow", $"{dir.Path}/hosts.alow", "--deny", $"{dir.Path}/hosts.deny", "--config", $"{dir.Path}/none.conf");
        Assert.Contains($"{dir.Path}/hosts.alow: warning: no such file: libwrap reads it as an empty table", check.Stdout, StringComparison.Ordinal);
        var match = CliRunner.Run(dir.Path, "match", "--allow", $"{dir.Path}/hosts.alow", "--deny", $"{dir.Path}/hosts.deny", "sshd", "192.0.2.1");
        Assert.Equal(0, match.ExitCode);
        Assert.Contains($"warning: {dir.Path}/hosts.alow: no such file", match.Stderr, StringComparison.Ordinal);
        Assert.Contains("access:   granted", match.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_RedisUnreachable_StartsAndSaysSoInOneLine()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf",
            $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n" +
            $"[service:x]\nlisten = 127.0.0.1:{Loopback.FreePort()}\nforward = 127.0.0.1:1\n[bans]\nstore = {dir.Path}/store\nredis = 127.0.0.1:1\n");
        string log;
        using (var gate = new ServeProcess(conf, drainSeconds: 1))
        {
            // The gate listens first; the fleet is joined in the background and says so when Redis is silent.
            await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
            await gate.WaitForAsync("does not answer", TimeSpan.FromSeconds(60));
            gate.Dispose(); // stopped before the log is read: the drain's lines are in it too
            log = gate.Stderr;
        }
        Assert.Contains($"warning: {conf}:11:9: fleet: Redis at 127.0.0.1:1 does not answer", log, StringComparison.Ordinal);
        Assert.False(StackFrame().IsMatch(log), log);
        Assert.DoesNotContain("Exception", log, StringComparison.Ordinal);
    }

    /// <summary>Runs giftwrap, as nobody (setpriv, no supplementary groups) when asked.</summary>
    private static CliResult Run(bool asNobody, Dictionary<string, string> environment, string[] args)
    {
        string[] command = asNobody
            ? ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "dotnet", CliRunner.Dll, .. args]
            : ["dotnet", CliRunner.Dll, .. args];
        var psi = new ProcessStartInfo(command[0], command[1..])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            WorkingDirectory = "/",
        };
        psi.Environment.Remove("SSH_CONNECTION");
        psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
        psi.Environment["EDITOR"] = "true";
        foreach (var (k, v) in environment)
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            // A gate that started although it must not: stop it (by its pid) and fail.
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return new CliResult(-1, stdout.Result, stderr.Result + "\n(still running after 60 s: it started)");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    [GeneratedRegex(@"^\s+at \S", RegexOptions.Multiline)]
    private static partial Regex StackFrame();
}
