// Cost of opening the fail2ban pair: reading and compiling 100,000 hosts.deny lines
// (and, when live, setting up the inotify watches). Steady state, JIT already done;
// the cold first load is printed by the "memory" mode.
using BenchmarkDotNet.Attributes;
using Giftwrap.Tables;

namespace Giftwrap.Benchmarks;

/// <summary>new AccessTables(...) on the 100,000-line table.</summary>
public class Compile
{
    private string? _root;
    private BenchTables.Pair _pair = null!;

    /// <summary>true: live tables (inotify set up, then disposed); false: read once.</summary>
    [Params(true, false)]
    public bool Live { get; set; }

    /// <summary>Writes the tables once.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _root = BenchTables.WriteToTemp();
        _pair = BenchTables.Fail2ban(_root);
    }

    /// <summary>Removes the temp directory.</summary>
    [GlobalCleanup]
    public void Cleanup() => BenchTables.Remove(_root);

    /// <summary>Opens (reads and compiles) hosts.allow and the 100,000-line hosts.deny.</summary>
    [Benchmark]
    public int Fail2ban100k()
    {
        using var tables = new AccessTables(_pair.Allow, _pair.Deny, new AccessTablesOptions { Live = Live });
        var (allow, deny) = tables.EntryCount;
        return allow + deny;
    }
}
