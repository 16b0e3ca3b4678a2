// giftwrap-fuzz TARGET: runs one harness under AFL++ through SharpFuzz (scripts/fuzz.sh starts it).
// giftwrap-fuzz TARGET FILE...: runs each file through the harness once, in this process, and says
// which one threw (to replay a crash afl-fuzz saved, under a debugger if need be).
// giftwrap-fuzz TARGET --repeat N FILE...: the same N times over, then the process's memory and
// open descriptors: afl runs one process for thousands of inputs, so a leak per input is a crash later.
// Out of process: a stack overflow or an abort in the target is a crash afl sees, not the end of the fuzzer.
using SharpFuzz;

namespace Giftwrap.Fuzz;

public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length == 0 || !Harnesses.All.TryGetValue(args[0], out var harness))
        {
            Console.Error.WriteLine($"usage: Giftwrap.Fuzz TARGET [FILE...]; targets: {string.Join(", ", Harnesses.All.Keys)}");
            return 2;
        }
        if (args.Length > 3 && args[1] == "--repeat")
            return Repeat(harness, int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture), args[3..]);
        if (args.Length > 1)
            return Replay(harness, args[1..]);
        Fuzzer.OutOfProcess.Run(stream => harness(Harnesses.ReadInput(stream)));
        return 0;
    }

    private static int Repeat(Action<byte[]> harness, int times, string[] files)
    {
        var inputs = files.Select(File.ReadAllBytes).ToArray();
        for (var i = 0; i < times; i++)
        {
            foreach (var input in inputs)
                harness(input);
            if (i % Math.Max(1, times / 10) == 0 || i == times - 1)
            {
                GC.Collect();
                Console.WriteLine($"{i + 1} rounds: {GC.GetTotalMemory(true) / 1024} KB managed, {Environment.WorkingSet / 1024} KB resident, "
                    + $"{Directory.GetFiles("/proc/self/fd").Length} descriptors, {System.Diagnostics.Process.GetCurrentProcess().Threads.Count} threads");
            }
        }
        return 0;
    }

    private static int Replay(Action<byte[]> harness, string[] files)
    {
        var failed = 0;
        foreach (var file in files)
        {
            try
            {
                harness(File.ReadAllBytes(file));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // A replay reports every input that escapes the harness, not only the first.
                Console.Error.WriteLine($"{file}: {ex}");
                failed++;
            }
        }
        Console.WriteLine($"{files.Length - failed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }
}
