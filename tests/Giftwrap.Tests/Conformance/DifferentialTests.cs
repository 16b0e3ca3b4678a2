// The conformance proof: random tables and requests decided by the real libwrap
// (through tests/harness/wraptest) and by Giftwrap must agree on the verdict and on
// the matched file and line, every time. A disagreement is shrunk to a minimal
// table before it is reported.
using System.Text;
using Giftwrap.Tables;
using Xunit.Abstractions;

namespace Giftwrap.Tests.Conformance;

public sealed class DifferentialTests(ITestOutputHelper output)
{
    private const int Tables = 2000;
    private const int RequestsPerTable = 50;

    [Fact]
    public void RandomTables_AgreeWithLibwrap_OnEveryRequest()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("GIFTWRAP_SEED"), out var s) ? s : Environment.TickCount;
        output.WriteLine($"seed {seed} (set GIFTWRAP_SEED to replay)");
        var dir = Directory.CreateTempSubdirectory("giftwrap-diff-").FullName;
        var failures = new List<string>();
        var compared = 0;
        try
        {
            Parallel.For(0, Environment.ProcessorCount, worker =>
            {
                var workDir = Path.Combine(dir, worker.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Directory.CreateDirectory(workDir);
                for (var t = worker; t < Tables; t += Environment.ProcessorCount)
                {
                    var gen = new TableGenerator(seed + t, workDir);
                    var allow = Path.Combine(workDir, "hosts.allow");
                    var deny = Path.Combine(workDir, "hosts.deny");
                    File.WriteAllText(allow, gen.Table(), Encoding.Latin1);
                    File.WriteAllText(deny, gen.Table(), Encoding.Latin1);
                    var requests = Enumerable.Range(0, RequestsPerTable).Select(_ => gen.Request()).ToList();
                    var problem = Compare(allow, deny, requests);
                    Interlocked.Add(ref compared, requests.Count);
                    if (problem is not null)
                    {
                        lock (failures)
                            failures.Add($"table seed {seed + t}:\n{problem}");
                        return;
                    }
                }
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        output.WriteLine($"{compared} (table, request) pairs compared");
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(3)));
        Assert.True(compared >= 100_000, $"only {compared} pairs compared");
    }

    /// <summary>Null when both agree; else a minimal reproducer.</summary>
    internal static string? Compare(string allow, string deny, List<string> requests)
    {
        var theirs = LibwrapOracle.Ask(allow, deny, requests);
        using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
        for (var i = 0; i < requests.Count; i++)
        {
            var (verdict, match, _) = Ours.Ask(tables, requests[i]);
            if (verdict != theirs[i].Verdict || match != theirs[i].Match)
                return Shrink(allow, deny, requests[i]);
        }
        return null;
    }

    // Drops lines from both tables while the disagreement remains, then reports what is left.
    private static string Shrink(string allow, string deny, string request)
    {
        foreach (var table in new[] { allow, deny })
        {
            var lines = System.Text.RegularExpressions.Regex.Split(File.ReadAllText(table, Encoding.Latin1), "(?<=\n)").Where(l => l.Length > 0).ToList();
            for (var i = lines.Count - 1; i >= 0; i--)
            {
                var without = lines.Where((_, j) => j != i).ToList();
                var saved = File.ReadAllText(table, Encoding.Latin1);
                File.WriteAllText(table, string.Concat(without), Encoding.Latin1);
                if (Disagree(allow, deny, request))
                    lines = without;
                else
                    File.WriteAllText(table, saved, Encoding.Latin1);
            }
        }
        var theirs = LibwrapOracle.Ask(allow, deny, [request])[0];
        using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
        var (verdict, match, decision) = Ours.Ask(tables, request);
        return $"request: {request.Replace("\t", " | ", StringComparison.Ordinal)}\n" +
               $"--- hosts.allow ---\n{File.ReadAllText(allow, Encoding.Latin1)}\n--- hosts.deny ---\n{File.ReadAllText(deny, Encoding.Latin1)}\n" +
               $"libwrap:  {theirs.Verdict} {theirs.Match} [{theirs.Warnings}]\n" +
               $"giftwrap: {verdict} {match} [{string.Join(" | ", decision.Warnings.Select(w => w.Message))}]";
    }

    private static bool Disagree(string allow, string deny, string request)
    {
        var theirs = LibwrapOracle.Ask(allow, deny, [request])[0];
        using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
        var (verdict, match, _) = Ours.Ask(tables, request);
        return verdict != theirs.Verdict || match != theirs.Match;
    }
}
