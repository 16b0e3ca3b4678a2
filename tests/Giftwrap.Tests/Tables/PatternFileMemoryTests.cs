// Memory held by a compiled /file pattern list: proportional to the file and small, since a
// list's words are hostile input (a 64 MB file of one-character words is 32 million patterns).
// Figures for docs/benchmarks.md: GIFTWRAP_LIST_MEMORY_MB=64 scales the one-character list.
using Giftwrap.Tables;
using Xunit.Abstractions;

namespace Giftwrap.Tests.Tables;

/// <summary>Alone: the figures are the whole process's managed heap, which other tests would move.</summary>
[CollectionDefinition(nameof(PatternFileMemoryTests), DisableParallelization = true)]
public sealed class PatternFileMemoryCollection;

[Collection(nameof(PatternFileMemoryTests))]
public sealed class PatternFileMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void Build_OneCharacterPatterns_HoldsFewBytesPerPattern()
    {
        var mb = int.TryParse(Environment.GetEnvironmentVariable("GIFTWRAP_LIST_MEMORY_MB"), out var m) ? m : 4;
        var (size, bytes, patterns) = Measure(() =>
        {
            var data = new byte[mb * 1024 * 1024];
            for (var i = 0; i < data.Length; i += 2)
            {
                data[i] = (byte)'a';
                data[i + 1] = (byte)'\n';
            }
            return data;
        });
        output.WriteLine($"one-character list, {size} bytes, {patterns} patterns: {bytes} bytes held, {(double)bytes / patterns:F1} per pattern");
        // One object per pattern held about 120 bytes each; the compact list holds a few.
        Assert.True(bytes < 16L * patterns, $"{bytes} bytes held for {patterns} patterns");
    }

    [Fact]
    public void Build_RealisticList_HoldsAboutTheFilesSize()
    {
        var patterns = 0;
        var (size, bytes, counted) = Measure(() =>
        {
            var text = new System.Text.StringBuilder();
            var rng = new Random(7);
            while (text.Length < 1024 * 1024)
            {
                patterns++;
                _ = (patterns % 4) switch
                {
                    0 => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"10.{rng.Next(256)}.{rng.Next(256)}.{rng.Next(256)}\n"),
                    1 => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"192.168.{rng.Next(256)}.0/255.255.255.0\n"),
                    2 => text.Append(System.Globalization.CultureInfo.InvariantCulture, $".host{rng.Next(1_000_000)}.example.com\n"),
                    _ => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"[2001:db8:{rng.Next(65536):x}::]/48\n"),
                };
            }
            return System.Text.Encoding.ASCII.GetBytes(text.ToString());
        });
        Assert.Equal(patterns, counted);
        output.WriteLine($"realistic list (addresses, nets, domains, IPv6 nets), {size} bytes, {counted} patterns: {bytes} bytes held, {(double)bytes / counted:F1} per pattern");
        Assert.True(bytes < 4L * size, $"{bytes} bytes held for a list of {size} bytes");
    }

    private static (long Size, long Bytes, int Patterns) Measure(Func<byte[]> make)
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-listmem-");
        try
        {
            var path = Path.Combine(dir.FullName, "list");
            var size = Write(path, make);
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var cache = PatternFileCache.Build([path], null, null, p => [p]);
            var after = GC.GetTotalMemory(forceFullCollection: true);
            var count = cache.Get(path).Count;
            GC.KeepAlive(cache);
            return (size, after - before, count);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    // Not inlined, so the file's bytes are garbage before the measurement starts.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static long Write(string path, Func<byte[]> make)
    {
        var data = make();
        File.WriteAllBytes(path, data);
        return data.Length;
    }
}
