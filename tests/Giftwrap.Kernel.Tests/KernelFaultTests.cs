// The kernel side when things go wrong, against the real nft in a namespace each test makes:
// a listing nft answers in a shape Giftwrap cannot read, and the drop chain's rules edited by
// someone else (same count, no drop). Each time the kernel must end up dropping what the
// store bans, and the operator be told why it could not check.
using System.Diagnostics;
using System.Net;
using Giftwrap.Bans;

namespace Giftwrap.Kernel.Tests;

public sealed class KernelFaultTests : IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(15);
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-kernel-fault-").FullName;
    private readonly NetNamespace _ns;
    private readonly BanStore _store;
    private readonly Listener _listener;
    private readonly TestLog _log = new();

    public KernelFaultTests()
    {
        _ns = NetNamespace.Create();
        _store = BanStore.Open(new BanOptions { Store = Path.Combine(_dir, "store"), ProtectLoopback = false, Protect = [BanTarget.Parse("127.0.0.1")] });
        _listener = _ns.Listen();
    }

    private KernelSync Start(IReadOnlyList<string>? nft = null)
    {
        var options = new KernelOptions
        {
            Nft = nft ?? _ns.Nft,
            Reconcile = TimeSpan.FromMinutes(10),
            Protect = KernelOptions.ProtectedFor(_store.Options, _ => null),
        };
        var k = new KernelSync(_store, options, _log);
        Assert.True(k.StartAsync().GetAwaiter().GetResult(), string.Join("\n", _log.Lines));
        return k;
    }

    private bool From(string source) => _ns.Connects(IPAddress.Parse(source), IPAddress.Loopback, _listener.Port, TimeSpan.FromMilliseconds(1500));

    private void Ban(string target) =>
        Assert.Equal(BanOutcome.Banned, _store.Ban(new BanRequest { Target = BanTarget.Parse(target), Duration = TimeSpan.FromHours(1) }).Outcome);

    private void WaitUntil(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < Within, $"not within {Within.TotalSeconds} s: {what}\n{string.Join("\n", _log.Lines)}");
            Thread.Sleep(50);
        }
    }

    /// <summary>An nft that answers every `-j list` with <paramref name="listing"/> and is the real nft in the namespace otherwise.</summary>
    private string[] ListingNft(string listing)
    {
        var answer = Path.Combine(_dir, "listing");
        File.WriteAllText(answer, listing);
        var path = Path.Combine(_dir, "nft");
        File.WriteAllText(path, $$"""
            #!/bin/sh
            case "$*" in
            *-j*) cat '{{answer}}'; exit 0 ;;
            esac
            exec nsenter -t {{_ns.Pid}} -n /usr/sbin/nft "$@"
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return [path];
    }

    [NfTablesFact]
    public async Task UnreadableListing_FlushedRuleset_IsWrittenAgainAndSaidSo()
    {
        // An element's "expires" that is no whole number: JsonElement.GetInt64 throws FormatException.
        var nft = ListingNft("""{"nftables": [{"set": {"family": "inet", "name": "a4", "table": "giftwrap", "type": "ipv4_addr", "elem": [{"elem": {"val": "127.0.0.5", "expires": 1.5}}]}}]}""");
        await using var k = Start(nft);
        Ban("127.0.0.5");
        WaitUntil(() => k.Elements == 1 && k.Monitoring, "the ban in the kernel, the monitor running");
        Thread.Sleep(300);
        _ns.Must("nft", "flush", "ruleset");
        // The kernel's contents cannot be read: the whole table is written all the same, and the log says why.
        WaitUntil(() => _ns.Must("nft", "list", "ruleset").Stdout.Contains("127.0.0.5", StringComparison.Ordinal), "the table written again");
        Assert.False(From("127.0.0.5"));
        Assert.Contains(_log.Lines, l => l.Contains("cannot read table inet giftwrap", StringComparison.Ordinal));
        // The loop still follows the store.
        Ban("127.0.0.6");
        WaitUntil(() => k.Elements == 2, "a later ban in the kernel");
        Assert.False(From("127.0.0.6"));
    }

    [NfTablesFact]
    public async Task ForeignRuleReplacement_SameCount_IsDriftAndRestored()
    {
        await using var k = Start();
        Ban("127.0.0.5");
        WaitUntil(() => k.Elements == 1 && k.Monitoring, "the ban in the kernel, the monitor running");
        Assert.False(From("127.0.0.5"));
        Thread.Sleep(300);
        // Someone replaces the drops by counters, four rules for four: the count alone says "in step".
        var script = "flush chain inet giftwrap prerouting\n" + string.Concat(Enumerable.Repeat("add rule inet giftwrap prerouting meta l4proto tcp ip saddr @a4 counter\n", 4));
        var edit = _ns.Run("sh", "-c", $"printf '%s' '{script}' | nft -f -");
        Assert.True(edit.ExitCode == 0, edit.Stderr);
        WaitUntil(() => !From("127.0.0.5"), "the drops restored");
        Assert.Contains(_log.Lines, l => l.Contains("chain, rule or set changed", StringComparison.Ordinal));
        var report = await k.ReconcileAsync("test", CancellationToken.None);
        Assert.False(report.Drifted, report.ToString());
    }

    [NfTablesFact]
    public async Task Reconcile_TableAsWritten_WithBanPortsAndAddressRules_IsInStep()
    {
        // The rules read back from nft's JSON compare equal to the ones written: several ban
        // ports (an anonymous set), one address-rule port (nft shows a bare number), both families.
        var options = new KernelOptions
        {
            Nft = _ns.Nft,
            Reconcile = TimeSpan.FromMinutes(10),
            Ports = [new KernelPort(null, 80), new KernelPort(null, 22), new KernelPort("sshd", 2222)],
            Protect = KernelOptions.ProtectedFor(_store.Options, _ => null),
        };
        await using var k = new KernelSync(_store, options, _log)
        {
            AddressRules = () => [new DaemonRefusals("sshd", [2222], ["127.0.9.0/24"], ["fd00:9::/64"])],
        };
        Ban("127.0.0.5");
        Assert.True(await k.StartAsync(), string.Join("\n", _log.Lines));
        var report = await k.ReconcileAsync("test", CancellationToken.None);
        Assert.False(report.Drifted, report.ToString());
        Assert.False(report.Rewritten);
    }

    [NfTablesFact]
    public async Task TwoOwners_DifferentPorts_StopAnsweringEachOther_AndSaySo()
    {
        // Two kernel sides on one host with other ports (two gates, or a gate and `kernel sync
        // --follow`): each one's whole-table write is drift to the other, which writes its own.
        KernelSync Side(int? port, TestLog log) => new(_store, new KernelOptions
        {
            Nft = _ns.Nft,
            Reconcile = TimeSpan.FromMinutes(10),
            Ports = port is { } p ? [new KernelPort(null, p)] : [],
            Protect = KernelOptions.ProtectedFor(_store.Options, _ => null),
        }, log);
        var other = new TestLog();
        Ban("127.0.0.5");
        await using var a = Side(null, _log);
        await using var b = Side(22, other);
        Assert.True(await a.StartAsync());
        Assert.True(await b.StartAsync());
        WaitUntil(() => a.Monitoring && b.Monitoring, "both monitors");
        Assert.True(await a.RewriteAsync("test", CancellationToken.None));
        const string Said = "is rewritten by process";
        WaitUntil(() => _log.Lines.Concat(other.Lines).Any(l => l.Contains(Said, StringComparison.Ordinal)), "the war said");
        // Settled: neither answers the other any more until its timer.
        Thread.Sleep(1000);
        var drifts = Drifts();
        Thread.Sleep(3000);
        Assert.Equal(drifts, Drifts());
        Assert.Contains(_log.Lines.Concat(other.Lines), l => l.Contains("a second gate or `giftwrap kernel sync --follow` on this host", StringComparison.Ordinal));

        int Drifts() => _log.Lines.Concat(other.Lines).Count(l => l.Contains("kernel: drift", StringComparison.Ordinal));
    }

    [NfTablesFact]
    public async Task AStepThatThrows_IsLogged_TheLoopGoesOn()
    {
        // The address rules' compiler failing once with what the loop did not expect (here an
        // ArgumentException): the loop must log it and keep following the store.
        var calls = 0;
        await using var k = Start();
        k.AddressRules = () => Interlocked.Increment(ref calls) == 1 ? throw new ArgumentException("compiler fault") : [];
        k.RulesChanged();
        WaitUntil(() => Volatile.Read(ref calls) >= 1, "the rules compiled");
        Ban("127.0.0.5");
        WaitUntil(() => k.Elements == 1, "a later ban in the kernel");
        Assert.False(From("127.0.0.5"));
        Assert.Contains(_log.Lines, l => l.Contains("internal error (ArgumentException): compiler fault", StringComparison.Ordinal));
    }

    public void Dispose()
    {
        _listener.Dispose();
        _store.Dispose();
        _ns.Dispose();
        Directory.Delete(_dir, true);
    }
}
