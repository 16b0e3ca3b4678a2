// Bans on one host (issue 4): the measurements behind bench/bans-local/run.sh.
//   addresses N FILE        the first N ban addresses, one a line (for the shell and C side)
//   hosts-deny N FILE       a Fail2ban-made hosts.deny: N lines "ALL: a.b.c.d"
//   apply DIR [N] [ROUNDS]  time BanMany(N) and N separate Ban calls, each into a fresh store
//                           under DIR; then the per-connection cost on that store (Stopwatch)
//   make-store DIR N        build a store of N active bans with BanMany (one call), timed
//   memory DIR              open the store in DIR: managed heap retained and process RSS
//   (anything else)         BenchmarkDotNet: GateDecision (Find, then Decide), short job
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using BenchmarkDotNet.Running;
using Giftwrap.Bans;
using Giftwrap.BansBenchmarks;
using Giftwrap.Decisions;
using Giftwrap.Tables;

var inv = CultureInfo.InvariantCulture;
switch (args.FirstOrDefault())
{
    case "addresses" when args.Length == 3:
        File.WriteAllLines(args[2], Enumerable.Range(0, int.Parse(args[1], inv)).Select(i => Common.Address(i).ToString()));
        return 0;
    case "hosts-deny" when args.Length == 3:
        Common.WriteHostsDeny(args[2], int.Parse(args[1], inv));
        return 0;
    case "apply" when args.Length >= 2:
        return Apply(args[1], args.Length > 2 ? int.Parse(args[2], inv) : 10_000, args.Length > 3 ? int.Parse(args[3], inv) : 3);
    case "make-store" when args.Length == 3:
        return MakeStore(args[1], int.Parse(args[2], inv));
    case "memory" when args.Length == 2:
        return Memory(args[1]);
    default:
        BenchmarkSwitcher.FromAssembly(typeof(GateDecision).Assembly).Run(args, new ShortConfig());
        return 0;
}

static int Apply(string root, int n, int rounds)
{
    Directory.CreateDirectory(root);
    // JIT and first-touch costs out of the way: a small store, both ways.
    using (var warm = BanStore.Open(Common.Options(Path.Combine(root, "warm")), watch: false))
    {
        warm.BanMany(Enumerable.Range(0, 200).Select(Common.Request));
        for (var i = 200; i < 400; i++)
            warm.Ban(Common.Request(i));
    }
    var requests = Enumerable.Range(0, n).Select(Common.Request).ToArray();
    string? lastMany = null;
    for (var r = 1; r <= rounds; r++)
    {
        var dir = Path.Combine(root, $"many-{r}");
        using var store = BanStore.Open(Common.Options(dir), watch: false);
        var sw = Stopwatch.StartNew();
        var results = store.BanMany(requests);
        sw.Stop();
        Check(store, results, n);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"giftwrap BanMany   round {r}: {n:N0} bans in {sw.Elapsed.TotalMilliseconds,8:F1} ms ({sw.Elapsed.TotalMilliseconds * 1000 / n:F2} us/ban), one fsync; journal {new FileInfo(store.JournalPath).Length / 1024.0:F0} KiB"));
        lastMany = dir;
    }
    for (var r = 1; r <= rounds; r++)
    {
        var dir = Path.Combine(root, $"single-{r}");
        using var store = BanStore.Open(Common.Options(dir), watch: false);
        var results = new List<BanResult>(n);
        var each = new double[n];
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            results.Add(store.Ban(requests[i]));
            each[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
        }
        sw.Stop();
        Check(store, results, n);
        Array.Sort(each);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"giftwrap Ban x{n:N0} round {r}: {n:N0} bans in {sw.Elapsed.TotalMilliseconds,8:F1} ms ({sw.Elapsed.TotalMilliseconds * 1000 / n:F2} us/ban), {n:N0} fsyncs; per call p50 {each[n / 2]:F0} us, p99 {each[n * 99 / 100]:F0} us, max {each[^1]:F0} us"));
    }
    PerConnection(lastMany!, root, n);
    return 0;
}

static void Check(BanStore store, IReadOnlyList<BanResult> results, int n)
{
    if (results.Count != n || results.Any(r => r.Outcome != BanOutcome.Banned) || store.Count != n || store.Problems.Count != 0)
        throw new InvalidOperationException($"expected {n} bans, store holds {store.Count} ({store.Problems.Count} problems)");
    using var reopened = BanStore.Open(store.Options, watch: false);
    if (reopened.List(DateTimeOffset.UtcNow).Count != n)
        throw new InvalidOperationException("a reopened store does not list every ban");
}

static void PerConnection(string storeDir, string root, int n)
{
    var (allow, deny) = Common.WriteTables(Path.Combine(root, "tables"));
    using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = true });
    using var store = BanStore.Open(Common.Options(storeDir), watch: true);
    var unlisted = IPAddress.Parse(Common.UnlistedClient);
    var unlistedRequest = Common.AccessFor(Common.UnlistedClient);
    var banned = Common.Address(n - 1);
    var bannedRequest = Common.AccessFor(banned.ToString());
    bool Gate(IPAddress a, AccessRequest r) => store.Find(a, Common.Daemon, DateTimeOffset.UtcNow) is null && tables.Decide(r).IsGranted;
    Console.WriteLine($"giftwrap verdicts on the {n:N0}-ban store: {Common.UnlistedClient} {(Gate(unlisted, unlistedRequest) ? "granted" : "refused")}, {banned} {(Gate(banned, bannedRequest) ? "granted" : "refused")}");
    Time($"tables only (no ban check), {Common.UnlistedClient}", () => tables.Decide(unlistedRequest).IsGranted);
    Time($"Find + Decide, {Common.UnlistedClient} (not banned)", () => Gate(unlisted, unlistedRequest));
    Time($"Find, {banned} (banned, last of {n:N0})", () => Gate(banned, bannedRequest));
}

static void Time(string what, Func<bool> decide)
{
    const int warm = 20_000, iterations = 200_000;
    var sink = 0;
    for (var i = 0; i < warm; i++)
        sink += decide() ? 1 : 0;
    var best = double.MaxValue;
    for (var round = 0; round < 3; round++)
    {
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < iterations; i++)
            sink += decide() ? 1 : 0;
        best = Math.Min(best, sw.Elapsed.TotalNanoseconds / iterations);
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"giftwrap per connection, {what}: best of 3 x {iterations:N0}: {best:F0} ns  [sink {sink % 2}]"));
}

static int MakeStore(string dir, int n)
{
    var sw = Stopwatch.StartNew();
    using (var store = BanStore.Open(Common.Options(dir), watch: false))
    {
        var results = store.BanMany(Enumerable.Range(0, n).Select(Common.Request));
        if (results.Any(r => r.Outcome != BanOutcome.Banned) || store.Count != n)
            throw new InvalidOperationException($"store holds {store.Count}, expected {n}");
    }
    var files = string.Join(", ", Directory.GetFiles(dir).Order(StringComparer.Ordinal)
        .Select(f => string.Create(CultureInfo.InvariantCulture, $"{Path.GetFileName(f)} {new FileInfo(f).Length / 1048576.0:F1} MB")));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"made a store of {n:N0} bans with one BanMany in {sw.Elapsed.TotalSeconds:F1} s (peak RSS {Common.StatusMb("VmHWM"):F0} MB); files: {files}"));
    return 0;
}

static int Memory(string dir)
{
    // The same code paths once on an empty store first, so JIT and runtime set-up are not counted.
    var empty = Directory.CreateTempSubdirectory("giftwrap-bans-mem-").FullName;
    try
    {
        using (var e = BanStore.Open(Common.Options(empty), watch: true))
            e.Find(IPAddress.Loopback, Common.Daemon, DateTimeOffset.UtcNow);
        var rssBefore = Common.StatusMb("VmRSS");
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var sw = Stopwatch.StartNew();
        var (store, count) = OpenStore(dir);
        var openMs = sw.Elapsed.TotalMilliseconds;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var rssAfter = Common.StatusMb("VmRSS");
        var banned = store.Find(Common.Address(count - 1), Common.Daemon, DateTimeOffset.UtcNow) is not null;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"giftwrap store of {count:N0} bans opened in {openMs:F0} ms (watching, as the gate); last address banned: {banned}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"giftwrap managed heap retained by the open store: {(after - before) / 1048576.0:F1} MB ({(after - before) / (double)count:F0} bytes/ban)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"giftwrap process RSS: {rssBefore:F1} MB before opening, {rssAfter:F1} MB after (+{rssAfter - rssBefore:F1} MB); peak during the load (VmHWM) {Common.StatusMb("VmHWM"):F1} MB"));
        GC.KeepAlive(store);
        store.Dispose();
        return 0;
    }
    finally
    {
        Directory.Delete(empty, recursive: true);
    }
}

[MethodImpl(MethodImplOptions.NoInlining)]
static (BanStore Store, int Count) OpenStore(string dir)
{
    var store = BanStore.Open(Common.Options(dir), watch: true);
    if (store.Problems.Count != 0)
        throw new InvalidOperationException(string.Join("; ", store.Problems));
    return (store, store.Count);
}
