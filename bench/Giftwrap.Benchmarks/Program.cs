// Entry point of the benchmarks.
//   (no args or BenchmarkDotNet args)  BenchmarkSwitcher: pick classes, e.g. --filter '*'
//   memory                             cold load time and retained managed memory of the 100,000-line table
//   tables DIR                         write the benchmark tables (and probes.env) into DIR, for bench/libwrap
//   verdicts DIR                       decide every probe against the tables in DIR and print the verdicts
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Running;
using Giftwrap.Benchmarks;
using Giftwrap.Decisions;
using Giftwrap.Tables;

switch (args.FirstOrDefault())
{
    case "memory":
        return Memory();
    case "tables" when args.Length == 2:
        BenchTables.WriteAll(args[1]);
        Console.WriteLine($"tables written to {args[1]}");
        return 0;
    case "verdicts" when args.Length == 2:
        return Verdicts(args[1]);
    default:
        BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(args, new BenchConfig());
        return 0;
}

static int Memory()
{
    var root = BenchTables.WriteToTemp();
    try
    {
        var pair = BenchTables.Fail2ban(root);
        Console.WriteLine($"fail2ban hosts.deny: {BenchTables.Fail2banLines:N0} lines, {new FileInfo(pair.Deny).Length / 1048576.0:F2} MB on disk");
        // Each measurement runs in its own non-inlined method, so nothing of one load is
        // still rooted (by a stack slot) when the next one takes its "before" figure.
        MeasureLoad(pair, live: false, "first load (cold, JIT included)");
        MeasureLoad(pair, live: false, "second load");
        MeasureLoad(pair, live: true, "live load");
        RepeatLoads(pair, 10);
        using var proc = Process.GetCurrentProcess();
        proc.Refresh();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"process peak working set {proc.PeakWorkingSet64 / 1048576.0:F1} MB (runtime, JIT, table text and load garbage included)"));
        return 0;
    }
    finally
    {
        BenchTables.Remove(root);
    }
}

[MethodImpl(MethodImplOptions.NoInlining)]
static void MeasureLoad(BenchTables.Pair pair, bool live, string what)
{
    var before = GC.GetTotalMemory(forceFullCollection: true);
    var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
    var sw = Stopwatch.StartNew();
    var tables = new AccessTables(pair.Allow, pair.Deny, new AccessTablesOptions { Live = live });
    sw.Stop();
    var allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
    var after = GC.GetTotalMemory(forceFullCollection: true);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Live={live,-5} {what,-33}: {sw.Elapsed.TotalMilliseconds,7:F1} ms, allocated {allocated / 1048576.0,6:F1} MB, " +
        $"retained {(after - before) / 1048576.0:F2} MB managed heap ({tables.EntryCount.Deny:N0} deny entries)"));
    GC.KeepAlive(tables);
    tables.Dispose();
}

[MethodImpl(MethodImplOptions.NoInlining)]
static void RepeatLoads(BenchTables.Pair pair, int count)
{
    var times = new List<double>();
    var pauses = new List<double>();
    foreach (var live in new[] { false, true })
    {
        times.Clear();
        pauses.Clear();
        for (var i = 0; i < count; i++)
        {
            GC.Collect();
            var pause = GC.GetTotalPauseDuration();
            var sw = Stopwatch.StartNew();
            using (new AccessTables(pair.Allow, pair.Deny, new AccessTablesOptions { Live = live }))
                times.Add(sw.Elapsed.TotalMilliseconds);
            pauses.Add((GC.GetTotalPauseDuration() - pause).TotalMilliseconds);
        }
        times.Sort();
        pauses.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Live={live,-5} {count} warm loads: min {times[0]:F1} ms, median {times[count / 2]:F1} ms, max {times[^1]:F1} ms; " +
            $"GC pauses inside a load: median {pauses[count / 2]:F1} ms"));
    }
}

static int Verdicts(string root)
{
    var probes = new (string Scenario, BenchTables.Pair Pair, string Client)[]
    {
        ("small-allowed", BenchTables.Small(root), BenchTables.SmallAllowedClient),
        ("small-refused", BenchTables.Small(root), BenchTables.SmallRefusedClient),
        ("fail2ban-unlisted", BenchTables.Fail2ban(root), BenchTables.Fail2banUnlistedClient),
        ("fail2ban-last", BenchTables.Fail2ban(root), BenchTables.Fail2banLastClient),
    };
    foreach (var (scenario, pair, client) in probes)
    {
        using var tables = new AccessTables(pair.Allow, pair.Deny, new AccessTablesOptions { Live = false });
        var d = tables.Decide(new AccessRequest
        {
            Daemon = BenchTables.Daemon,
            ClientAddress = client,
            ClientName = AccessRequest.Unknown,
            ClientUser = AccessRequest.Unknown,
        });
        Console.WriteLine($"giftwrap {scenario,-18} {BenchTables.Daemon}@{client,-15} {(d.IsGranted ? "granted" : "refused")} ({d})");
    }
    return 0;
}
