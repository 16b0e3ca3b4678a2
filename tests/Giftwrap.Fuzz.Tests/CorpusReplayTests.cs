// The fuzzing smoke run of the test command: every committed seed (fuzz/corpus/TARGET/*, crash
// inputs kept as seeds included) through its harness's entry point, in this process. A harness
// lets every exception out, so a seed that reaches a bug fails here with its file named.
// The afl-fuzz runs themselves (scripts/fuzz.sh) are recorded in docs/fuzzing.md.
using System.Runtime.CompilerServices;

[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace Giftwrap.Fuzz.Tests;

public sealed class CorpusReplayTests
{
    public static TheoryData<string> Targets() => [.. Harnesses.All.Keys];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Harness_EverySeed_EndsWithoutAnException(string target)
    {
        var seeds = Directory.GetFiles(Path.Combine(CorpusRoot(), target));
        Assert.NotEmpty(seeds);
        var failures = new List<string>();
        foreach (var seed in seeds.Order(StringComparer.Ordinal))
        {
            try
            {
                Harnesses.All[target](File.ReadAllBytes(seed));
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Every seed is tried, so that one run lists every failing input.
                failures.Add($"{Path.GetFileName(seed)}: {ex.GetType().Name}: {ex.Message}");
            }
        }
        Assert.Empty(failures);
    }

    [Fact]
    public void Corpus_HasAFolderForEveryTargetAndNoOther()
    {
        var folders = Directory.GetDirectories(CorpusRoot()).Select(Path.GetFileName).Order(StringComparer.Ordinal);
        Assert.Equal(Harnesses.All.Keys.Order(StringComparer.Ordinal), folders);
    }

    private static string CorpusRoot([CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "../../fuzz/corpus"));
}
