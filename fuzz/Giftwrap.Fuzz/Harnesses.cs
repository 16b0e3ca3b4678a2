// The fuzzing targets by name, each an entry point that takes one input and lets any exception out:
// hostile input must end in a clean result (a diagnostic, an error list, a status), never an exception,
// so whatever escapes a harness is a bug. Harnesses that need files use one private temporary folder.
namespace Giftwrap.Fuzz;

public static class Harnesses
{
    /// <summary>Inputs past this are cut: afl-fuzz keeps its cases far smaller; the cap only bounds a replay.</summary>
    public const int MaxInput = 1 << 20;

    public static IReadOnlyDictionary<string, Action<byte[]>> All { get; } = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["tables"] = TablesHarness.Run,
        ["config"] = ConfigHarness.Run,
        ["dns"] = DnsHarness.Run,
        ["ident"] = IdentHarness.Run,
        ["bans"] = BansHarness.Run,
        ["inetd"] = InetdHarness.Run,
    };

    public static byte[] ReadInput(Stream stream)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int n;
        while (buffer.Length < MaxInput && (n = stream.Read(chunk, 0, chunk.Length)) > 0)
            buffer.Write(chunk, 0, n);
        return buffer.Length > MaxInput ? buffer.ToArray()[..MaxInput] : buffer.ToArray();
    }

    /// <summary>Splits an input in two at the first "\n%%\n" (the second part empty when there is none).</summary>
    public static (byte[] First, byte[] Second) Split(byte[] input)
    {
        var at = input.AsSpan().IndexOf("\n%%\n"u8);
        return at < 0 ? (input, []) : (input[..(at + 1)], input[(at + 4)..]);
    }

    private static readonly Lazy<string> s_scratch = new(() =>
    {
        var dir = Path.Combine(Path.GetTempPath(), $"giftwrap-fuzz-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Another harness process of the same id cannot exist; a file still open is left to /tmp's cleaning.
            }
        };
        return dir;
    });

    /// <summary>This process's scratch folder, made on first use and removed at exit.</summary>
    public static string Scratch => s_scratch.Value;
}
