// What the gate does per connection (src/Giftwrap.Cli/Commands/GateBans.cs and the
// connection handler): BanStore.Find(client, daemon, now) first; only when the client is
// not banned, AccessTables.Decide(request) on the tables. With an empty store and with
// 1,000,000 active bans. The store is watched and the tables are live, as in the gate.
using System.Net;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using Giftwrap.Bans;
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.BansBenchmarks;

/// <summary>BenchmarkDotNet's short job (as bench/Giftwrap.Benchmarks) with 10 measured iterations instead of 3 (the machine is shared), plus allocations.</summary>
public sealed class ShortConfig : ManualConfig
{
    /// <summary>Creates the configuration.</summary>
    public ShortConfig()
    {
        Add(DefaultConfig.Instance);
        AddJob(Job.ShortRun.WithIterationCount(10));
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}

/// <summary>Per-connection decision cost with no bans and with a million.</summary>
public class GateDecision
{
    /// <summary>Environment variable naming a prebuilt 1,000,000-ban store (run.sh builds it once).</summary>
    public const string StoreVariable = "GIFTWRAP_BENCH_STORE_1M";

    /// <summary>Active bans in the store.</summary>
    [Params(0, 1_000_000)]
    public int Bans { get; set; }

    private string _root = "";
    private BanStore _store = null!;
    private AccessTables _tables = null!;
    private IPAddress _unlisted = null!;
    private IPAddress _banned = null!;
    private AccessRequest _unlistedRequest = null!;
    private AccessRequest _bannedRequest = null!;

    /// <summary>Opens the store and the tables, then checks the verdicts the benchmarks rely on.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("giftwrap-bans-bdn-").FullName;
        var (allow, deny) = Common.WriteTables(Path.Combine(_root, "tables"));
        _tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = true });
        string storeDir;
        if (Bans == 0)
        {
            storeDir = Path.Combine(_root, "empty-store");
        }
        else if (Environment.GetEnvironmentVariable(StoreVariable) is { Length: > 0 } prebuilt)
        {
            storeDir = prebuilt;
        }
        else
        {
            storeDir = Path.Combine(_root, "store");
            using var builder = BanStore.Open(Common.Options(storeDir), watch: false);
            builder.BanMany(Enumerable.Range(0, Bans).Select(Common.Request));
        }
        _store = BanStore.Open(Common.Options(storeDir), watch: true);
        _unlisted = IPAddress.Parse(Common.UnlistedClient);
        // The last address banned (i = 999,999): for Bans = 0 the same address, not banned.
        _banned = Common.Address(999_999);
        _unlistedRequest = Common.AccessFor(Common.UnlistedClient);
        _bannedRequest = Common.AccessFor(_banned.ToString());
        var now = DateTimeOffset.UtcNow;
        if (_store.Count != Bans || _store.Problems.Count != 0)
            throw new InvalidOperationException($"store holds {_store.Count} entries ({_store.Problems.Count} problems), expected {Bans}");
        if (_store.Find(_unlisted, Common.Daemon, now) is not null || !_tables.Decide(_unlistedRequest).IsGranted)
            throw new InvalidOperationException("the unlisted client must be unbanned and granted by the tables");
        if ((_store.Find(_banned, Common.Daemon, now) is not null) != (Bans > 0))
            throw new InvalidOperationException("the last address must be banned exactly when the store is full");
    }

    /// <summary>Closes everything and removes the temp directory (never the prebuilt store).</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _tables.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The tables alone, no ban check: what the gate did before bans existed.</summary>
    [Benchmark(Baseline = true)]
    public bool TablesOnly() => _tables.Decide(_unlistedRequest).IsGranted;

    /// <summary>A client on no ban list: Find misses, then the tables decide (granted).</summary>
    [Benchmark]
    public bool GateUnlisted() => Gate(_unlisted, _unlistedRequest);

    /// <summary>The 1,000,000th banned address: Find hits and the tables are skipped (with Bans = 0: not banned, the tables decide).</summary>
    [Benchmark]
    public bool GateBanned() => Gate(_banned, _bannedRequest);

    private bool Gate(IPAddress client, AccessRequest request) =>
        _store.Find(client, Common.Daemon, DateTimeOffset.UtcNow) is null && _tables.Decide(request).IsGranted;
}
