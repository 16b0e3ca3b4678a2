// giftwrap-fuzz TARGET: runs one harness under AFL++ through SharpFuzz (scripts/fuzz.sh starts it).
// giftwrap-fuzz TARGET FILE...: runs each file through the harness once, in this process, and says
// which one threw (to replay a crash afl-fuzz saved, under a debugger if need be).
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
        if (args.Length > 1)
            return Replay(harness, args[1..]);
        Fuzzer.OutOfProcess.Run(stream => harness(Harnesses.ReadInput(stream)));
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
