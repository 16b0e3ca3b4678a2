// Where the drop chain hangs, against the real kernel: prerouting at priority raw - 10 with
// `fib daddr type local`, so a banned source's SYN to this host dies before conntrack, while
// the same source's traffic routed through this host (three namespaces the test makes: a
// client, this host as router, a server, joined by veth pairs) passes untouched. A kernel
// that refuses fib (played by an nft wrapper) gets the input hook, and says so; once it takes
// fib (the wrapper finds a flag file), the timer's reconciliation moves the drops back.
using System.Diagnostics;
using System.Net;
using Giftwrap.Bans;

namespace Giftwrap.Kernel.Tests;

public sealed class KernelHookTests : IDisposable
{
    private static readonly TimeSpan Dropped = TimeSpan.FromMilliseconds(1500);
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-kernel-hook-").FullName;
    private readonly NetNamespace _host = NetNamespace.Create();
    private readonly BanStore _store;
    private readonly TestLog _log = new();

    public KernelHookTests() =>
        _store = BanStore.Open(new BanOptions { Store = Path.Combine(_dir, "store"), ProtectLoopback = false });

    private KernelSync Start(IReadOnlyList<string>? nft = null, TimeSpan? reconcile = null)
    {
        var options = new KernelOptions { Nft = nft ?? _host.Nft, Reconcile = reconcile ?? TimeSpan.FromMinutes(10) };
        var k = new KernelSync(_store, options, _log);
        Assert.True(k.StartAsync().GetAwaiter().GetResult(), string.Join("\n", _log.Lines));
        return k;
    }

    private void Ban(string target) =>
        Assert.Equal(BanOutcome.Banned, _store.Ban(new BanRequest { Target = BanTarget.Parse(target), Duration = TimeSpan.FromHours(1) }).Outcome);

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"not within 10 s: {what}");
            Thread.Sleep(20);
        }
    }

    private string Ruleset() => _host.Must("nft", "list", "ruleset").Stdout;

    [NfTablesFact]
    public async Task Table_DropsInPrerouting_BeforeConntrack_ForThisHostOnly_LoopbackV4AndV6()
    {
        _host.Must("ip", "-6", "addr", "add", "fd00:1::5/128", "dev", "lo", "nodad");
        using var listener = _host.Listen();
        _host.Must("nft", "add table inet probe; add chain inet probe raw { type filter hook prerouting priority raw; policy accept; }; "
            + "add rule inet probe raw ip saddr 127.0.0.5 counter; add rule inet probe raw ip saddr 127.0.0.6 counter");
        await using var k = Start();
        Ban("127.0.0.5");
        Ban("127.0.1.0/24");
        Ban("fd00:1::5");
        WaitUntil(() => k.Elements == 3, "the bans in the kernel");
        var rules = Ruleset();
        Assert.Contains("chain prerouting {", rules, StringComparison.Ordinal);
        Assert.Contains("type filter hook prerouting priority raw - 10; policy accept;", rules, StringComparison.Ordinal);
        Assert.Matches(@"meta l4proto tcp ip saddr @a4 fib daddr type local drop", rules);
        Assert.Matches(@"meta l4proto tcp ip6 saddr @n6 fib daddr type local drop", rules);
        Assert.DoesNotContain("hook input", rules, StringComparison.Ordinal);
        Assert.Equal(KernelHook.Prerouting, k.Hook);
        // In step as written: the reconciler reads the prerouting chain back as Giftwrap's own.
        Assert.False((await k.ReconcileAsync("test", CancellationToken.None)).Drifted);
        Assert.False(_host.Connects(IPAddress.Parse("127.0.0.5"), IPAddress.Loopback, listener.Port, Dropped));
        Assert.False(_host.Connects(IPAddress.Parse("127.0.1.9"), IPAddress.Parse("127.0.0.1"), listener.Port, Dropped));
        Assert.False(_host.Connects(IPAddress.Parse("fd00:1::5"), IPAddress.IPv6Loopback, listener.Port, Dropped));
        Assert.True(_host.Connects(IPAddress.Parse("127.0.0.6"), IPAddress.Loopback, listener.Port, TimeSpan.FromSeconds(10)));
        Assert.True(_host.Connects(IPAddress.IPv6Loopback, IPAddress.IPv6Loopback, listener.Port, TimeSpan.FromSeconds(10)));
        // Dropped before conntrack (-200) and before the raw chains (-300): a counter of the test's
        // own at priority raw saw the accepted source's SYNs, and none of the banned one's.
        Assert.Matches(@"ip saddr 127\.0\.0\.5 counter packets 0 ", Ruleset());
        Assert.Matches(@"ip saddr 127\.0\.0\.6 counter packets [1-9]", Ruleset());
    }

    [NfTablesFact]
    public async Task ForwardedPacket_FromABannedSource_IsNotDropped_ThisHostsOwnAddressIs()
    {
        // client (192.0.2.2, fd00:c::2) -- this host, a router (192.0.2.1 | 198.51.100.1) -- server (198.51.100.2, fd00:5::2)
        using var client = NetNamespace.Create();
        using var server = NetNamespace.Create();
        _host.Veth("r0", client, "c0");
        _host.Veth("r1", server, "s0");
        _host.Must("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1");
        Address(_host, "r0", "192.0.2.1/24", "fd00:c::1/64");
        Address(_host, "r1", "198.51.100.1/24", "fd00:5::1/64");
        Address(client, "c0", "192.0.2.2/24", "fd00:c::2/64");
        Address(server, "s0", "198.51.100.2/24", "fd00:5::2/64");
        client.Must("ip", "route", "add", "default", "via", "192.0.2.1");
        client.Must("ip", "-6", "route", "add", "default", "via", "fd00:c::1");
        server.Must("ip", "route", "add", "default", "via", "198.51.100.1");
        server.Must("ip", "-6", "route", "add", "default", "via", "fd00:5::1");
        using var behind = server.Listen();
        using var local = _host.Listen();
        var c4 = IPAddress.Parse("192.0.2.2");
        var c6 = IPAddress.Parse("fd00:c::2");
        // The path works before any ban, both ways.
        Assert.True(client.Connects(c4, IPAddress.Parse("198.51.100.2"), behind.Port, TimeSpan.FromSeconds(10)));
        Assert.True(client.Connects(c6, IPAddress.Parse("fd00:5::2"), behind.Port, TimeSpan.FromSeconds(10)));
        await using var k = Start();
        Ban("192.0.2.2");
        Ban("fd00:c::/64");
        WaitUntil(() => k.Elements == 2, "the bans in the kernel");
        // This host's own addresses: dropped. Routed through it to the server: untouched.
        Assert.False(client.Connects(c4, IPAddress.Parse("192.0.2.1"), local.Port, Dropped));
        Assert.False(client.Connects(c6, IPAddress.Parse("fd00:c::1"), local.Port, Dropped));
        Assert.True(client.Connects(c4, IPAddress.Parse("198.51.100.2"), behind.Port, TimeSpan.FromSeconds(10)));
        Assert.True(client.Connects(c6, IPAddress.Parse("fd00:5::2"), behind.Port, TimeSpan.FromSeconds(10)));
        // Also this host's address on the far side, reached through the near one: local, dropped.
        Assert.False(client.Connects(c4, IPAddress.Parse("198.51.100.1"), local.Port, Dropped));
    }

    [NfTablesFact]
    public async Task KernelWithoutFib_FallsBackToTheInputHook_StillDrops_StatusSaysSo()
    {
        using var listener = _host.Listen();
        var nft = new FiblessNft(_dir, _host);
        await using var k = Start([nft.Path]);
        Ban("127.0.0.5");
        WaitUntil(() => k.Elements == 1, "the ban in the kernel");
        Assert.Equal(KernelHook.Input, k.Hook);
        Assert.Contains("Could not process rule", k.HookFallback, StringComparison.Ordinal);
        Assert.Contains(_log.Lines, l => l.Contains("dropping in the input hook instead", StringComparison.Ordinal));
        var rules = Ruleset();
        Assert.Contains("type filter hook input priority filter - 10; policy accept;", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("fib", rules, StringComparison.Ordinal);
        Assert.False((await k.ReconcileAsync("test", CancellationToken.None)).Drifted);
        Assert.False(_host.Connects(IPAddress.Parse("127.0.0.5"), IPAddress.Loopback, listener.Port, Dropped));
        Assert.True(_host.Connects(IPAddress.Parse("127.0.0.6"), IPAddress.Loopback, listener.Port, TimeSpan.FromSeconds(10)));
        // `kernel status` with the same nft first on PATH: it names the hook and why.
        var conf = Path.Combine(_dir, "giftwrap.conf");
        File.WriteAllText(conf, $"[bans]\nstore = {_dir}/store\nprotect_loopback = no\n\n[kernel]\nnftables = yes\n");
        var status = nft.Status(_host, conf);
        Assert.Contains("hook:      input, priority filter - 10 (the kernel refuses a prerouting chain with fib", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("in step:   yes", status.Stdout, StringComparison.Ordinal);
    }

    private static void Address(NetNamespace ns, string dev, string v4, string v6)
    {
        ns.Must("ip", "addr", "add", v4, "dev", dev);
        ns.Must("ip", "-6", "addr", "add", v6, "dev", dev, "nodad");
        ns.Must("ip", "link", "set", dev, "up");
    }

    public void Dispose()
    {
        _store.Dispose();
        _host.Dispose();
        Directory.Delete(_dir, true);
    }
}
