// ConsoleJournal against coreutils' stat(1): JOURNAL_STREAM as systemd writes it (st_dev:st_ino in
// decimal) names a descriptor when stat -L says the same numbers for its file, a file on a real
// disk included (its device has a major number, which the device's encoding must get right).
// The modes' effect on a running gate is tested with real processes in ServeLogConsoleTests.
using System.Diagnostics;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;

namespace Giftwrap.Gate.Tests;

public sealed class ConsoleJournalTests
{
    [Fact]
    public void IsJournal_StatsOwnNumbers_True_AnyOtherFalse()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Giftwrap.Gate.Tests.dll");
        using var file = File.OpenHandle(path);
        var fd = (int)file.DangerousGetHandle();
        var numbers = Stat(path);
        var (device, inode) = (numbers[..numbers.IndexOf(':', StringComparison.Ordinal)], numbers[(numbers.IndexOf(':', StringComparison.Ordinal) + 1)..]);

        Assert.True(ConsoleJournal.IsJournal(numbers, fd));
        Assert.False(ConsoleJournal.IsJournal($"{device}:{ulong.Parse(inode, System.Globalization.CultureInfo.InvariantCulture) + 1}", fd));
        Assert.False(ConsoleJournal.IsJournal($"{ulong.Parse(device, System.Globalization.CultureInfo.InvariantCulture) + 1}:{inode}", fd));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("12")]
    [InlineData(":12")]
    [InlineData("12:")]
    [InlineData("-1:12")]
    [InlineData("1:2:3")]
    [InlineData(" 1:2")]
    public void IsJournal_Malformed_False(string? value) => Assert.False(ConsoleJournal.IsJournal(value, 0));

    [Theory]
    [InlineData(ConsoleMode.On, false, true)]
    [InlineData(ConsoleMode.Off, true, false)]
    [InlineData(ConsoleMode.Auto, true, true)]
    [InlineData(ConsoleMode.Auto, false, true)]
    public void DaemonLines_NoJournal_AsTheModeSays(ConsoleMode mode, bool syslogOn, bool expected) =>
        Assert.Equal(expected, ConsoleJournal.DaemonLines(mode, syslogOn, journalStream: null));

    /// <summary>stat -L -c %d:%i: st_dev and st_ino in decimal, as systemd writes JOURNAL_STREAM.</summary>
    private static string Stat(string path)
    {
        var psi = new ProcessStartInfo("stat", ["-L", "-c", "%d:%i", path]) { RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return output;
    }
}
