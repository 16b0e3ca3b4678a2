// A running gate's soft RLIMIT_NOFILE, read from /proc and set with prlimit(1), for the tests that
// run it out of descriptors. The hard limit is left alone: any user may lower and raise the soft
// one of their own process.
using System.Diagnostics;
using System.Globalization;

namespace Giftwrap.Cli.Tests;

internal static class DescriptorLimit
{
    /// <summary>The soft RLIMIT_NOFILE of <paramref name="pid"/>, from /proc/PID/limits.</summary>
    public static int Soft(int pid)
    {
        var line = File.ReadAllLines($"/proc/{pid}/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        return int.Parse(line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture);
    }

    /// <summary>Sets the soft limit only, then waits the second in which the gate reads it again (DescriptorReserve.Ceiling).</summary>
    public static async Task SetSoftAsync(int pid, int soft)
    {
        using var p = Process.Start("prlimit", ["--pid", pid.ToString(CultureInfo.InvariantCulture), $"--nofile={soft}:"])!;
        await p.WaitForExitAsync();
        Assert.Equal(0, p.ExitCode);
        await Task.Delay(1200);
    }
}
