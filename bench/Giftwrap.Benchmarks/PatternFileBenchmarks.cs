// One decision through a /file pattern list of ordinary size: 1,000 words (addresses,
// net/mask, [v6]/len, .domains, a wildcard), named by hosts.deny. The list is written
// next to the benchmark tables; AccessTables compiles it with them.
using BenchmarkDotNet.Attributes;
using Giftwrap.Decisions;

namespace Giftwrap.Benchmarks;

/// <summary>hosts.deny `sshd: /list`: a client on no word (the whole list walked) and one on the last word.</summary>
public class PatternFile : DecisionBenchmarkBase
{
    private const int Words = 1000;
    private readonly AccessRequest _unlisted = Request("198.51.100.7");
    private readonly AccessRequest _last = Request("10.0.3.231");

    /// <inheritdoc/>
    protected override BenchTables.Pair PairUnder(string root)
    {
        var dir = Path.Combine(root, "patternfile");
        Directory.CreateDirectory(dir);
        var list = Path.Combine(dir, "list");
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < Words - 1; i++)
        {
            _ = (i % 4) switch
            {
                0 => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"10.0.{i / 256}.{i % 256}\n"),
                1 => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"192.168.{i % 256}.0/255.255.255.0\n"),
                2 => text.Append(System.Globalization.CultureInfo.InvariantCulture, $".host{i}.example.com\n"),
                _ => text.Append(System.Globalization.CultureInfo.InvariantCulture, $"[2001:db8:{i:x}::]/48\n"),
            };
        }
        text.Append("10.0.3.231\n");
        File.WriteAllText(list, text.ToString());
        var pair = new BenchTables.Pair(Path.Combine(dir, "hosts.allow"), Path.Combine(dir, "hosts.deny"));
        File.WriteAllText(pair.Allow, "");
        File.WriteAllText(pair.Deny, $"sshd: {list}\n");
        return pair;
    }

    /// <inheritdoc/>
    protected override void Check()
    {
        Expect(_unlisted, granted: true, line: null);
        Expect(_last, granted: false, line: 1);
    }

    /// <summary>A client on no word of the list: every word is tried.</summary>
    [Benchmark]
    public Decision Unlisted() => Tables.Decide(_unlisted);

    /// <summary>The address on the list's last word.</summary>
    [Benchmark]
    public Decision LastWord() => Tables.Decide(_last);
}
