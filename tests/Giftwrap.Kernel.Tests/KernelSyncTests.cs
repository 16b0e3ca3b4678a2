// The kernel side against the real nft and the real kernel, in a network namespace each
// test makes: a ban drops that source's connections in the kernel while other sources
// connect, an unban lets it back, prefixes and expiry hold, a flushed ruleset or a deleted
// element comes back through nft monitor, and protected addresses never reach a set.
using System.Diagnostics;
using System.Net;
using Giftwrap.Bans;

namespace Giftwrap.Kernel.Tests;

public sealed class KernelSyncTests : IDisposable
{
    private static readonly TimeSpan Dropped = TimeSpan.FromMilliseconds(1500);
    private static readonly TimeSpan Open = TimeSpan.FromSeconds(10);
    private static readonly IPAddress Local4 = IPAddress.Loopback;
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-kernel-").FullName;
    private readonly NetNamespace _ns;
    private readonly BanStore _store;
    private readonly Listener _listener;
    private readonly TestLog _log = new();

    public KernelSyncTests()
    {
        _ns = NetNamespace.Create();
        // Loopback plays the remote clients here, so it is not protected (as a test rig's [bans] protect_loopback = no).
        _store = BanStore.Open(new BanOptions { Store = Path.Combine(_dir, "store"), ProtectLoopback = false, Protect = [BanTarget.Parse("127.0.0.1")] });
        _listener = _ns.Listen();
    }

    private KernelSync Start(IReadOnlyList<BanTarget>? protect = null)
    {
        var options = new KernelOptions
        {
            Nft = _ns.Nft,
            // Ten minutes: within a test only the monitor and the store's events can explain a change.
            Reconcile = TimeSpan.FromMinutes(10),
            Protect = protect ?? KernelOptions.ProtectedFor(_store.Options, _ => null),
        };
        var k = new KernelSync(_store, options, _log);
        Assert.True(k.StartAsync().GetAwaiter().GetResult(), string.Join("\n", _log.Lines));
        return k;
    }

    private bool From(string source) => _ns.Connects(IPAddress.Parse(source), IPAddress.Parse(source).AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? Local4 : IPAddress.IPv6Loopback, _listener.Port, Dropped);

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < Open, $"not within {Open.TotalSeconds} s: {what}");
            Thread.Sleep(20);
        }
    }

    private long? KernelExpiry(string key)
    {
        var json = _ns.Must("nft", "-j", "list", "table", "inet", "giftwrap").Stdout;
        return KernelContents.Parse(json, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()).Elements.GetValueOrDefault(key);
    }

    private string Ruleset() => _ns.Must("nft", "list", "ruleset").Stdout;

    private void Ban(string target, TimeSpan duration) =>
        Assert.Equal(BanOutcome.Banned, _store.Ban(new BanRequest { Target = BanTarget.Parse(target), Duration = duration }).Outcome);

    [NfTablesFact]
    public async Task Ban_DropsThatSourceInTheKernel_OtherSourcesConnect_UnbanLetsItBack()
    {
        await using var k = Start();
        Assert.True(From("127.0.0.5"));
        Ban("127.0.0.5", TimeSpan.FromHours(1));
        WaitUntil(() => k.Elements == 1, "the ban in the kernel");
        Assert.False(From("127.0.0.5"));
        Assert.True(From("127.0.0.6"));
        _store.Unban(BanTarget.Parse("127.0.0.5"));
        WaitUntil(() => k.Elements == 0, "the unban in the kernel");
        Assert.True(From("127.0.0.5"));
        Assert.DoesNotContain("127.0.0.5", Ruleset(), StringComparison.Ordinal);
    }

    [NfTablesFact]
    public async Task PrefixBans_IPv4AndIPv6_DropTheirWholeRange()
    {
        _ns.Must("ip", "-6", "addr", "add", "fd00:1::5/128", "dev", "lo", "nodad");
        _ns.Must("ip", "-6", "addr", "add", "fd00:2::5/128", "dev", "lo", "nodad");
        await using var k = Start();
        Ban("127.0.1.0/24", TimeSpan.FromHours(1));
        Ban("fd00:1::/64", TimeSpan.FromHours(1));
        WaitUntil(() => k.Elements == 2, "the prefixes in the kernel");
        Assert.False(From("127.0.1.7"));
        Assert.True(From("127.0.2.7"));
        Assert.False(From("fd00:1::5"));
        Assert.True(From("fd00:2::5"));
        var rules = Ruleset();
        Assert.Contains("127.0.1.0/24", rules, StringComparison.Ordinal);
        Assert.Contains("fd00:1::/64", rules, StringComparison.Ordinal);
    }

    [NfTablesFact]
    public async Task Expiry_TheKernelLetsTheBanGoWhenTheStoreDoes()
    {
        await using var k = Start();
        Ban("127.0.0.8", TimeSpan.FromSeconds(3));
        WaitUntil(() => k.Elements == 1, "the ban in the kernel");
        var entry = _store.Get(BanTarget.Parse("127.0.0.8"))!;
        Assert.False(From("127.0.0.8"));
        // No message from Giftwrap: the element's own timeout ends it.
        WaitUntil(() => DateTimeOffset.UtcNow > entry.Expires, "the store's expiry");
        WaitUntil(() => !Ruleset().Contains("127.0.0.8", StringComparison.Ordinal), "the element gone from the kernel");
        Assert.True(From("127.0.0.8"));
    }

    [NfTablesFact]
    public async Task LongBans_DaysYearsAndPastTheKernelsLongestTimeout_AllReachTheKernel()
    {
        // nft reads "NNNms" only up to 99,999,999 (27 hours: longer is "value too large"), and the
        // kernel takes no timeout past about 584 years: one such element failed the whole
        // transaction, and with it every ban of the table.
        Ban("127.0.0.5", TimeSpan.FromHours(1));
        Ban("127.0.0.6", TimeSpan.FromDays(2));
        Ban("127.0.5.0/24", TimeSpan.FromDays(30));
        Ban("127.0.0.7", TimeSpan.FromDays(36_500));
        Assert.Equal(BanOutcome.Banned, _store.Ban(new BanRequest { Target = BanTarget.Parse("127.0.6.0/24"), Duration = TimeSpan.MaxValue, Escalate = false }).Outcome);
        await using var k = Start();
        Assert.Equal(5, k.Elements);
        foreach (var source in new[] { "127.0.0.5", "127.0.0.6", "127.0.5.9", "127.0.0.7", "127.0.6.9" })
            Assert.False(From(source), source);
        Assert.True(From("127.0.0.8"));
        var twoDays = _store.Get(BanTarget.Parse("127.0.0.6"))!.Expires!.Value.ToUnixTimeMilliseconds();
        Assert.True(Math.Abs((KernelExpiry("a4 127.0.0.6") ?? 0) - twoDays) < 3000);
        // Added while running (an incremental batch, not the whole table), and in step at the next reconcile.
        Ban("127.0.0.9", TimeSpan.FromDays(7));
        WaitUntil(() => k.Elements == 6, "a week's ban added while running");
        Assert.False(From("127.0.0.9"));
        var report = await k.ReconcileAsync("test", CancellationToken.None);
        Assert.False(report.Drifted, report.ToString());
    }

    [NfTablesFact]
    public async Task LongerBan_ExtendsTheElementsTimeout()
    {
        await using var k = Start();
        Ban("127.0.0.9", TimeSpan.FromMinutes(1));
        WaitUntil(() => k.Elements == 1, "the ban in the kernel");
        Ban("127.0.0.9", TimeSpan.FromHours(5));
        var expires = _store.Get(BanTarget.Parse("127.0.0.9"))!.Expires!.Value.ToUnixTimeMilliseconds();
        Assert.True(expires - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > 3_600_000);
        // The kernel's expiry (nft's JSON, whole seconds) follows the store's new one.
        WaitUntil(() => Math.Abs((KernelExpiry("a4 127.0.0.9") ?? 0) - expires) < 3000, "the longer timeout in the kernel");
    }

    [NfTablesFact]
    public async Task FlushedRuleset_IsRestoredByTheMonitor()
    {
        await using var k = Start();
        Ban("127.0.0.5", TimeSpan.FromHours(1));
        Ban("127.0.3.0/24", TimeSpan.FromHours(1));
        WaitUntil(() => k.Elements == 2, "the bans in the kernel");
        // The monitor must be attached before the flush it is to see.
        WaitUntil(() => k.Monitoring, "nft monitor running");
        Thread.Sleep(300);
        var sw = Stopwatch.StartNew();
        _ns.Must("nft", "flush", "ruleset");
        WaitUntil(() => Ruleset().Contains("127.0.3.0/24", StringComparison.Ordinal) && Ruleset().Contains("127.0.0.5", StringComparison.Ordinal), "the table restored");
        Console.WriteLine($"flush ruleset: restored after {sw.ElapsedMilliseconds} ms");
        Assert.False(From("127.0.0.5"));
        Assert.Contains(_log.Lines, l => l.Contains("table inet giftwrap missing", StringComparison.Ordinal));
    }

    [NfTablesFact]
    public async Task ForeignElementDeletion_IsDriftAndRestored()
    {
        await using var k = Start();
        Ban("127.0.0.5", TimeSpan.FromHours(1));
        WaitUntil(() => k.Elements == 1 && k.Monitoring, "the ban in the kernel");
        Thread.Sleep(300);
        _ns.Must("nft", "delete", "element", "inet", "giftwrap", "a4", "{ 127.0.0.5 }");
        WaitUntil(() => Ruleset().Contains("127.0.0.5", StringComparison.Ordinal), "the element restored");
        Assert.Contains(_log.Lines, l => l.Contains("1 element(s) missing", StringComparison.Ordinal));
    }

    [NfTablesFact]
    public async Task ProtectedAddresses_NeverReachTheKernel_APrefixIsSplitAroundThem()
    {
        // The SSH client of this session (SSH_CONNECTION) joins the protected list.
        var protect = KernelOptions.ProtectedFor(_store.Options, n => n == "SSH_CONNECTION" ? "127.0.4.9 50000 127.0.0.1 22" : null);
        await using var k = Start(protect);
        Ban("127.0.4.0/24", TimeSpan.FromHours(1));
        WaitUntil(() => k.Elements > 0, "the prefix in the kernel");
        Assert.False(From("127.0.4.8"));
        Assert.False(From("127.0.4.10"));
        Assert.True(From("127.0.4.9"));
        var rules = Ruleset();
        Assert.DoesNotContain("127.0.4.0/24", rules, StringComparison.Ordinal);
        Assert.Matches(@"127\.0\.4\.8 timeout", rules);
        Assert.Contains("127.0.4.10/31", rules, StringComparison.Ordinal);
        // [bans] protect (127.0.0.1 here) is refused by the store and cut out of any prefix by the kernel side.
        Assert.Equal(BanOutcome.Protected, _store.Ban(new BanRequest { Target = BanTarget.Parse("127.0.0.1") }).Outcome);
        Assert.True(From("127.0.0.1"));
    }

    public void Dispose()
    {
        _listener.Dispose();
        _store.Dispose();
        _ns.Dispose();
        Directory.Delete(_dir, true);
    }
}

internal sealed class TestLog : IKernelLog
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
                return [.. _lines];
        }
    }

    public void Info(string message) => Add(message);

    public void Warning(string message) => Add(message);

    public void Error(string message) => Add(message);

    private void Add(string m)
    {
        lock (_lines)
            _lines.Add(m);
    }
}
