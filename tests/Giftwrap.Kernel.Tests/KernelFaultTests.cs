// The kernel side when things go wrong, against the real nft in a namespace each test makes:
// a listing nft answers in a shape Giftwrap cannot read. The kernel must end up dropping what
// the store bans, and the operator be told why it could not check.
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

    public void Dispose()
    {
        _listener.Dispose();
        _store.Dispose();
        _ns.Dispose();
        Directory.Delete(_dir, true);
    }
}
