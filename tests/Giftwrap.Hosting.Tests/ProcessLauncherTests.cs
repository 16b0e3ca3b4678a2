// The launcher and the reaper with real programs: the process state wrapped around argv by
// standard tools, stdio on /dev/null, a default signal mask, the exit code and a killing signal
// told apart, and a program that cannot start reported as an IOException.
namespace Giftwrap.Hosting.Tests;

public sealed class ProcessLauncherTests
{
    [Fact]
    public void Wrap_UmaskUserNice_InLibwrapsOrderOfTools()
    {
        var wrapped = ProcessLauncher.Wrap(["/bin/true"], new ProcessState { Umask = 0b000_010_010, Nice = 5, User = "nobody", Group = "nogroup" });
        Assert.EndsWith("nice", wrapped[0], StringComparison.Ordinal);
        Assert.Equal(["-n", "5", "--"], wrapped[1..4]);
        Assert.EndsWith("setpriv", wrapped[4], StringComparison.Ordinal);
        Assert.Equal(["--reuid=nobody", "--regid=nogroup", "--init-groups", "--"], wrapped[5..9]);
        Assert.Equal([ProcessLauncher.Shell, "-c", "umask 22 && exec \"$0\" \"$@\"", "/bin/true"], wrapped[9..]);
    }

    [Fact]
    public async Task Start_ExitCodeAndEnvironment_Reaped()
    {
        var state = new ProcessState().With(new Options.SetEnvAction("GW_CODE", "7"))!;
        var exit = await ChildReaper.WatchExit(ProcessLauncher.Start(ProcessLauncher.ShellCommand("exit $GW_CODE"), state, -1));
        Assert.Equal((7, 0, 7), (exit.Code, exit.Signal, exit.Status));
    }

    [Fact]
    public async Task Start_KilledBySignal_SignalApartFromCode()
    {
        var exit = await ChildReaper.WatchExit(ProcessLauncher.Start(ProcessLauncher.ShellCommand("kill -9 $$"), new ProcessState(), -1));
        Assert.Equal((0, 9, 128 + 9), (exit.Code, exit.Signal, exit.Status));
    }

    [Fact]
    public async Task Start_StdioIsDevNull_AndSignalsAtDefault()
    {
        // The runtime ignores SIGPIPE; a program of a rule must not inherit that (SigIgn's bit 13 clear).
        var exit = await ChildReaper.WatchExit(ProcessLauncher.Start(ProcessLauncher.ShellCommand(
            "[ \"$(readlink /proc/self/fd/0)\" = /dev/null ] && [ $(( 0x$(sed -n 's/^SigIgn:\\s*//p' /proc/self/status) & 0x1000 )) -eq 0 ]"), new ProcessState(), -1));
        Assert.Equal(0, exit.Status);
    }

    [Fact]
    public async Task Start_LeadsAProcessGroupOfItsOwn_InTheCallersSession()
    {
        // Its own group: [actions] limits count a program with its background jobs by group id (ProgramLimits).
        // The caller's session: a session per child is an autogroup per child for the scheduler (issue 16).
        var session = File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        var state = new ProcessState().With(new Options.SetEnvAction("GW_SID", session))!;
        var exit = await ChildReaper.WatchExit(ProcessLauncher.Start(ProcessLauncher.ShellCommand(
            "set -- $(sed 's/^.*) //' /proc/$$/stat); [ \"$3\" = \"$$\" ] && [ \"$4\" = \"$GW_SID\" ]"), state, -1));
        Assert.Equal(0, exit.Status);
    }

    [Fact]
    public void Start_NoSuchProgram_ThrowsIOException() =>
        Assert.Throws<IOException>(() => ProcessLauncher.Start(["/nonexistent/giftwrap-test"], new ProcessState(), -1));
}
