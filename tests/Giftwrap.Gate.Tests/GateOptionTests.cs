// Every process and socket option of hosts_options(5) carried out by the gate, observed from
// the outside: by the exec'd program (umask, user, group, nice, socket options) or by syslog.
using static Giftwrap.Gate.Tests.GateProbes;

namespace Giftwrap.Gate.Tests;

public sealed class GateOptionTests
{
    private static async Task<string> ServeOnceAsync(string allow, Giftwrap.Gate.Config.ServiceConfig service, GateFixture gate, string from = "127.0.0.1")
    {
        File.WriteAllText(gate.Allow, allow);
        gate.Start(gate.Config(service));
        using var c = await GateFixture.ConnectAsync(service.Listen[0].Port, from);
        return await GateFixture.ReadAllAsync(c);
    }

    [Fact]
    public async Task SpawnExpansionOf8191Bytes_DaemonNeverRuns_AsLibwrapExits()
    {
        // percent_x(): 911 times "%a" of 127.0.0.1 (9 bytes) is 8,199 bytes after "echo ": libwrap logs
        // "expansion too long" and exits. The gate must not run the service (before: it ran an empty spawn
        // and then the service).
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        var rule = "sh: ALL: spawn echo " + string.Concat(Enumerable.Repeat("%a", 911)) + "\n";
        Assert.Equal("", await ServeOnceAsync(rule, Shell("sh", port, "echo served"), gate));
        await gate.WaitForLogAsync($"warning: {gate.Allow}, line 1: percent_x: expansion too long: echo 127.0.0.1127.0.0.1127.0.0...");
        // percent_x() exits there: tcpd never reaches refuse(), so no verdict line follows the warning.
        Assert.DoesNotContain(gate.LogLines, l => l.Contains("connect from", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Umask_Option_IsTheExecProgramsUmask()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("0027\n", await ServeOnceAsync("sh: ALL: umask 027\n", Shell("sh", port, "umask"), gate));
    }

    [Fact]
    public async Task User_Nobody_RunsTheExecProgramAsNobodyInItsPrimaryGroup()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("nobody\nnogroup\n", await ServeOnceAsync("sh: ALL: user nobody\n", Shell("sh", port, "id -un; id -gn"), gate));
    }

    [Fact]
    public async Task Group_Nogroup_ChangesOnlyTheGroup()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("root\nnogroup\n", await ServeOnceAsync("sh: ALL: group nogroup\n", Shell("sh", port, "id -un; id -gn"), gate));
    }

    [Fact]
    public async Task UserDotGroup_Form_SetsBoth()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("nobody\nroot\n", await ServeOnceAsync("sh: ALL: user nobody.root\n", Shell("sh", port, "id -un; id -gn"), gate));
    }

    [Fact]
    public async Task Nice_Option_AddsToTheExecProgramsNiceness()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        var before = int.Parse(File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ')[17]);
        var printed = await ServeOnceAsync("sh: ALL: nice 7\n", Shell("sh", port, "nice"), gate);
        Assert.Equal($"{Math.Min(before + 7, 19)}\n", printed);
    }

    [Fact]
    public async Task Spawn_AfterUmask_RunsWithThatUmaskToo()
    {
        await using var gate = new GateFixture();
        var mark = Path.Combine(gate.Directory, "spawned");
        var port = GateFixture.FreePort();
        await ServeOnceAsync($"sh: ALL: umask 077: spawn umask > {mark}\n", Shell("sh", port, "echo served"), gate);
        Assert.Equal("0077\n", await ReadWhenWrittenAsync(mark));
    }

    [Fact]
    public async Task KeepaliveAndLinger_AreSetOnTheClientSocket()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        var printed = await ServeOnceAsync("probe: ALL: keepalive: linger 9\n", Exec("probe", port, SockOptProgram), gate);
        Assert.Equal("keepalive=1 linger=1/9\n", printed);
    }

    [Fact]
    public async Task LingerZero_TurnsLingerOff_AsLibwrapDoes()
    {
        // options.c linger_option(): l_onoff = (l_linger != 0); "linger 0" is no reset on close.
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("keepalive=0 linger=0/0\n", await ServeOnceAsync("probe: ALL: linger 0\n", Exec("probe", port, SockOptProgram), gate));
    }

    [Fact]
    public async Task Linger_BeyondWhatLingerOptionTakes_IsSetAsTheKernelTakesIt()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("keepalive=0 linger=1/100000\n", await ServeOnceAsync("probe: ALL: linger 100000\n", Exec("probe", port, SockOptProgram), gate));
    }

    [Fact]
    public async Task Verdicts_AreLoggedAsDebiansTcpdLogsThem_NameThenAddress()
    {
        await using var gate = new GateFixture(deny: "sh: 127.0.0.24\n");
        var port = GateFixture.FreePort();
        Assert.Equal("hi\n", await ServeOnceAsync("sh: 127.0.0.23\n", Shell("sh", port, "echo hi"), gate, from: "127.0.0.23"));
        Assert.EndsWith("]: connect from 127.0.0.23 (127.0.0.23)", await gate.WaitForLogAsync("connect from 127.0.0.23"), StringComparison.Ordinal);
        using var refused = await GateFixture.ConnectAsync(port, "127.0.0.24");
        Assert.Equal("", await GateFixture.ReadAllAsync(refused));
        Assert.EndsWith("]: refused connect from 127.0.0.24 (127.0.0.24)", await gate.WaitForLogAsync("connect from 127.0.0.24"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warnings_AreLoggedAtErr_AsTcpdWarnLogsThem()
    {
        // diag.c: tcpd_warn() and tcpd_jump() both log at LOG_ERR; "warning:" is daemon.err, not daemon.warning.
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        await ServeOnceAsync("sh: ALL: spawn echo %z\n", Shell("sh", port, "echo hi"), gate, from: "127.0.0.25");
        var line = await gate.WaitForLogAsync("unrecognized %z");
        Assert.StartsWith("<27>", line, StringComparison.Ordinal); // daemon (3) * 8 + err (3)
        Assert.EndsWith($"]: warning: {gate.Allow}, line 1: unrecognized %z", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoSocketOptions_LeaveTheDefaults()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        Assert.Equal("keepalive=0 linger=0/0\n", await ServeOnceAsync("probe: ALL\n", Exec("probe", port, SockOptProgram), gate));
    }

    [Fact]
    public async Task Severity_AuthNotice_SetsThePriorityOfTheConnectLine()
    {
        await using var gate = new GateFixture();
        var port = GateFixture.FreePort();
        await ServeOnceAsync("sh: ALL: severity auth.notice\n", Shell("sh", port, "echo hi"), gate, from: "127.0.0.21");
        var line = await gate.WaitForLogAsync("connect from 127.0.0.21");
        Assert.StartsWith("<37>", line, StringComparison.Ordinal); // auth (4) * 8 + notice (5)
    }

    [Fact]
    public async Task Severity_LevelOnly_KeepsTheDaemonFacilityOnTheRefusal()
    {
        await using var gate = new GateFixture(deny: "sh: ALL: severity err\n");
        var port = GateFixture.FreePort();
        Assert.Equal("", await ServeOnceAsync("", Shell("sh", port, "echo hi"), gate, from: "127.0.0.22"));
        var line = await gate.WaitForLogAsync("refused connect from 127.0.0.22");
        Assert.StartsWith("<27>", line, StringComparison.Ordinal); // daemon (3) * 8 + err (3)
    }
}
