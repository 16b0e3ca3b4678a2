// One fleet member as a gate would run it: its own store directory, a BanStore and a
// BanFleet. Restartable (leave and rejoin with the same directory), to play a host reboot.
using System.Net;

namespace Giftwrap.Bans.Redis.Tests;

internal sealed class Member : IAsyncDisposable
{
    private readonly string _redis;
    private readonly string _prefix;
    private readonly FleetRate _rate;
    private readonly IReadOnlyList<BanTarget> _protect;

    private Member(string name, string dir, string redis, string prefix, FleetRate rate, IReadOnlyList<BanTarget> protect)
    {
        Name = name;
        Dir = dir;
        _redis = redis;
        _prefix = prefix;
        _rate = rate;
        _protect = protect;
    }

    public string Name { get; }

    public string Dir { get; }

    public BanStore Store { get; private set; } = null!;

    public BanFleet Fleet { get; private set; } = null!;

    public List<FleetNotice> Notices { get; } = [];

    public TimeSpan MaxSkew { get; private init; }

    public static async Task<Member> StartAsync(string name, string root, string redis, string prefix,
        FleetRate? rate = null, IReadOnlyList<BanTarget>? protect = null, TimeSpan? maxSkew = null)
    {
        var m = new Member(name, Path.Combine(root, name), redis, prefix, rate ?? new FleetRate(0, TimeSpan.FromMinutes(1)), protect ?? [])
        {
            MaxSkew = maxSkew ?? new FleetOptions { Redis = "" }.MaxSkew,
        };
        await m.OpenAsync();
        return m;
    }

    public async Task OpenAsync()
    {
        Store = BanStore.Open(new BanOptions { Store = Dir, Origin = Name, Protect = _protect });
        Fleet = await BanFleet.JoinAsync(Store, new FleetOptions { Redis = _redis, KeyPrefix = _prefix, Rate = _rate, MaxSkew = MaxSkew });
        Fleet.Notice += (_, n) =>
        {
            lock (Notices)
                Notices.Add(n);
        };
    }

    public async Task CloseAsync()
    {
        await Fleet.DisposeAsync();
        Store.Dispose();
    }

    public bool IsBanned(string address) => Store.Find(IPAddress.Parse(address), "sshd", DateTimeOffset.UtcNow) is not null;

    public BanResult Ban(string target, string reason = "test") =>
        Store.Ban(new BanRequest { Target = BanTarget.Parse(target), Duration = TimeSpan.FromHours(1), Reason = reason });

    public BanResult Unban(string target) => Store.Unban(BanTarget.Parse(target));

    public int NoticeCount(FleetNoticeKind kind)
    {
        lock (Notices)
            return Notices.Count(n => n.Kind == kind);
    }

    public async ValueTask DisposeAsync() => await CloseAsync();
}

internal static class Eventually
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after a generous timeout.</summary>
    public static async Task TrueAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }
}
