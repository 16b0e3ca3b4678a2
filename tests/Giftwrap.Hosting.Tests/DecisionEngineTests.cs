// DecisionEngine against real tables and real programs: libwrap's order of the options, the
// aclexec fallback and its lines, severity on the verdict line, and what a host that cannot
// twist, send banners or reach the socket is told. The gate's and tcpd mode's end-to-end runs
// (Giftwrap.Gate.Tests, TcpdRuntimeDifferentialTests) check the same against the real tcpd.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Hosting.Tests;

public sealed class DecisionEngineTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("giftwrap-engine-");

    public void Dispose() => _dir.Delete(recursive: true);

    private static readonly AccessRequest Request =
        AccessRequest.ForConnection("svc", new IPEndPoint(IPAddress.Parse("127.0.0.7"), 40000), new IPEndPoint(IPAddress.Loopback, 7)) with { CanLookUp = false };

    private async Task<(DecisionOutcome Outcome, RecordingHost Host)> RunAsync(string allow, RecordingHost? host = null, string deny = "")
    {
        var allowPath = Path.Combine(_dir.FullName, "hosts.allow");
        var denyPath = Path.Combine(_dir.FullName, "hosts.deny");
        await File.WriteAllTextAsync(allowPath, allow);
        await File.WriteAllTextAsync(denyPath, deny);
        using var tables = new AccessTables(allowPath, denyPath, new AccessTablesOptions { Live = false });
        host ??= new RecordingHost();
        var outcome = await new DecisionEngine().CarryOutAsync(tables.Decide(Request), Request, host, CancellationToken.None);
        return (outcome, host);
    }

    [Fact]
    public async Task CarryOut_NoOptions_ServesWithoutLines()
    {
        var (outcome, host) = await RunAsync("svc: ALL\n");
        Assert.Equal(DecisionFate.Serve, outcome.Fate);
        Assert.Empty(host.Lines);
        Assert.Equal("connect from 127.0.0.7 (127.0.0.7)", outcome.VerdictLine.Text);
        Assert.Equal(SyslogSeverity.Info, outcome.VerdictLine.Severity);
    }

    [Fact]
    public async Task CarryOut_SetenvBeforeSpawn_ReachesTheProgram()
    {
        var marker = Path.Combine(_dir.FullName, "spawned");
        var (outcome, host) = await RunAsync($"svc: ALL: setenv GW_TEST hello: spawn echo $GW_TEST > {marker}: umask 077\n");
        Assert.Equal(DecisionFate.Serve, outcome.Fate);
        Assert.Equal("hello\n", await File.ReadAllTextAsync(marker));
        var spawn = Assert.Single(host.Programs);
        Assert.Equal(ProgramKind.Spawn, spawn.Kind);
        // umask came after the spawn: it applies to later programs only.
        Assert.Null(spawn.State.Umask);
        Assert.Equal(0b000_111_111, outcome.State.Umask);
    }

    [Fact]
    public async Task CarryOut_AclExecFails_LogsAndFallsBack()
    {
        var (outcome, host) = await RunAsync("svc: ALL: severity local0.notice: aclexec /bin/false\n", deny: "svc: ALL\n");
        var line = Assert.Single(host.Lines);
        // At the default facility and LOG_INFO, whatever the rule's severity said.
        Assert.Equal(new LibwrapLine(LibwrapEvent.AclExecReturned, "svc", SyslogSeverity.Info, null, "aclexec returned 1"), line);
        Assert.Equal(DecisionFate.Refuse, outcome.Fate);
        Assert.Equal(SyslogSeverity.Notice, outcome.Severity);
        Assert.Equal(16 << 3, outcome.Facility);
    }

    [Fact]
    public async Task CarryOut_AclExecKilled_SaysTheSignalThenFallsBack()
    {
        var (outcome, host) = await RunAsync("svc: ALL: aclexec kill -9 $$\n", deny: "svc: ALL\n");
        Assert.Equal(2, host.Lines.Count);
        Assert.Equal(LibwrapEvent.AclExecSignal, host.Lines[0].Event);
        Assert.Matches(@"^warning: .*hosts\.allow, line 1: process \d+ exited with signal 9$", host.Lines[0].Text);
        Assert.Equal(LibwrapEvent.AclExecReturned, host.Lines[1].Event);
        Assert.Equal(DecisionFate.Refuse, outcome.Fate);
        Assert.Equal("refused connect from 127.0.0.7 (127.0.0.7)", outcome.VerdictLine.Text);
    }

    [Fact]
    public async Task CarryOut_TwistOnAHostThatRefuses_RefusesWithoutTwistLine()
    {
        var (outcome, host) = await RunAsync("svc: ALL: spawn true: twist echo no\n");
        Assert.Equal(DecisionFate.Refuse, outcome.Fate);
        Assert.Equal(["twist"], host.NotCarried);
        Assert.Empty(host.Lines);
    }

    [Fact]
    public async Task CarryOut_TwistDeferred_SaysTwistAtTheRuleSeverity()
    {
        var (outcome, host) = await RunAsync("svc: ALL: severity err: twist echo hi %a\n", new RecordingHost(TwistSupport.Defer));
        Assert.Equal(DecisionFate.Twisted, outcome.Fate);
        Assert.Equal("echo hi 127.0.0.7", outcome.TwistCommand);
        Assert.Null(outcome.Program);
        var line = Assert.Single(host.Lines);
        Assert.Equal(new LibwrapLine(LibwrapEvent.Twist, "svc", SyslogSeverity.Err, null, "twist 127.0.0.7 to echo hi 127.0.0.7"), line);
    }

    [Fact]
    public async Task CarryOut_BannersKeepaliveLingerWithoutSocket_ReportedNotLogged()
    {
        var (outcome, host) = await RunAsync($"svc: ALL: banners {_dir.FullName}: keepalive: linger 5\n");
        Assert.Equal(DecisionFate.Serve, outcome.Fate);
        Assert.Equal(["banners"], host.NotCarried);
        Assert.Equal([(ClientSocketOption.KeepAlive, 0), (ClientSocketOption.Linger, 5)], host.Options);
        Assert.Empty(host.Lines);
    }

    [Fact]
    public async Task CarryOut_SocketOptionFails_SaysTcpdWarn()
    {
        var (_, host) = await RunAsync("svc: ALL: linger 5\n", new RecordingHost(sockets: SocketOptionResult.Failed));
        var line = Assert.Single(host.Lines);
        Assert.Equal(SyslogSeverity.Err, line.Severity);
        Assert.EndsWith("hosts.allow, line 1: setsockopt SO_LINGER 5: Bad file descriptor", line.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CarryOut_Banner_ExpandedAndSent()
    {
        await File.WriteAllTextAsync(Path.Combine(_dir.FullName, "svc"), "hello %a\n");
        var (outcome, host) = await RunAsync($"svc: ALL: banners {_dir.FullName}\n", new RecordingHost(sendsBanners: true));
        Assert.Equal(DecisionFate.Serve, outcome.Fate);
        Assert.Equal("hello 127.0.0.7\r\n", System.Text.Encoding.Latin1.GetString(Assert.Single(host.Banners)));
    }

    [Theory]
    [InlineData("fifo", "a FIFO")]
    [InlineData("/dev/zero", "a character device")]
    public async Task CarryOut_BannerFileNotRegular_NeitherWaitsNorSendsAndSaysWhere(string kind, string what)
    {
        // libwrap's fopen() waits for a writer on a FIFO and sends /dev/zero's NULs without end: Giftwrap opens
        // a banner file without waiting and sends only a regular file's bytes.
        var path = Path.Combine(_dir.FullName, "svc");
        if (kind == "fifo")
        {
            using var p = System.Diagnostics.Process.Start("mkfifo", [path]);
            await p.WaitForExitAsync();
            Assert.Equal(0, p.ExitCode);
        }
        else
        {
            File.CreateSymbolicLink(path, kind);
        }
        var (outcome, host) = await RunAsync($"svc: ALL: banners {_dir.FullName}\n", new RecordingHost(sendsBanners: true)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(DecisionFate.Serve, outcome.Fate);
        Assert.True(host.Banners.All(b => b.Length == 0), "a banner was sent");
        var line = Assert.Single(host.Lines);
        Assert.Equal(SyslogSeverity.Err, line.Severity);
        Assert.EndsWith($"hosts.allow, line 1: {path}: {what}, not a regular file; no banner sent", line.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CarryOut_ProgramCannotStart_SaysErrorAndAclExecFallsBack()
    {
        var (outcome, host) = await RunAsync("svc: ALL: aclexec true\n", new RecordingHost { StartFailure = "cannot start /bin/sh: No such file" }, deny: "svc: ALL\n");
        Assert.Equal(["error: cannot start /bin/sh: No such file", "aclexec returned 1"], host.Lines.Select(l => l.Text));
        Assert.Equal(DecisionFate.Refuse, outcome.Fate);
    }
}
