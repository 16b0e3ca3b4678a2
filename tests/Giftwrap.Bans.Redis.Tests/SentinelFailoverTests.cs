// The fleet behind Redis Sentinel: two members joined through three sentinels (a
// `serviceName=` connection string) ban a stream of addresses while the primary is killed
// (SIGKILL); the sentinels promote the replica, and every ban a member acknowledged (its
// store's Ban returned Banned: the journal is fsynced and the fleet's ledger will send it)
// must end up on both members, and on a third member that joins after the failover
// (so the new primary's list is whole too). docs/fleet-failover.md records a run's figures.
using System.Diagnostics;
using Xunit.Abstractions;

namespace Giftwrap.Bans.Redis.Tests;

public sealed class SentinelFailoverTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("giftwrap-sentinel-fleet-").FullName;
    private readonly string _prefix = "test:" + Guid.NewGuid().ToString("N");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task PrimaryKilled_DuringAStreamOfBans_EveryAcknowledgedBanIsOnEveryMember()
    {
        using var rig = new SentinelRig();
        rig.WaitUntilReady(TimeSpan.FromSeconds(60));
        await using var a = await Member.StartAsync("member-a", _root, rig.ConnectionString, _prefix);
        await using var b = await Member.StartAsync("member-b", _root, rig.ConnectionString, _prefix);
        Assert.True(a.Fleet.IsConnected && b.Fleet.IsConnected);

        var acknowledged = new List<string>();
        var n = 0;
        void BanSome(int count)
        {
            for (var i = 0; i < count; i++, n++)
            {
                var target = $"198.18.{n / 250}.{n % 250 + 1}";
                if ((n % 2 == 0 ? a : b).Ban(target, "stream").Outcome == BanOutcome.Banned)
                    acknowledged.Add(target);
            }
        }

        // Bans before the kill, replicated or not when it lands; then bans while the primary is
        // dead and the sentinels have not yet agreed (the members cannot write to Redis), and after.
        BanSome(200);
        var clock = Stopwatch.StartNew();
        rig.KillPrimary();
        int? promoted = null;
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            BanSome(10);
            await Task.Delay(50);
            if (rig.CurrentPrimary() is { } p && p != rig.PrimaryPort)
            {
                promoted = p;
                break;
            }
        }
        var failover = clock.Elapsed;
        Assert.Equal(rig.ReplicaPort, promoted);
        BanSome(100);
        var sent = n;

        try
        {
            await Eventually.TrueAsync(() => acknowledged.All(a.IsBanned) && acknowledged.All(b.IsBanned), "every acknowledged ban on both members");
        }
        catch (Exception) when (Report(rig, a, b, acknowledged, failover)) // false: reports, and the failure goes on
        {
            throw;
        }
        var converged = clock.Elapsed;
        await using var c = await Member.StartAsync("member-c", _root, rig.ConnectionString, _prefix);
        await Eventually.TrueAsync(() => acknowledged.All(c.IsBanned), "every acknowledged ban on a member that joined after the failover");
        output.WriteLine($"failover: replica promoted {failover.TotalSeconds:F1} s after the kill; {sent} bans sent, {acknowledged.Count} acknowledged; "
            + $"on A {acknowledged.Count(a.IsBanned)}, on B {acknowledged.Count(b.IsBanned)} ({converged.TotalSeconds:F1} s after the kill), "
            + $"on C (joined after) {acknowledged.Count(c.IsBanned)}");
        Assert.Equal(sent, acknowledged.Count);
    }

    // What a failing run leaves to read: each member's view, the new primary's list and its subscribers.
    private bool Report(SentinelRig rig, Member a, Member b, List<string> acknowledged, TimeSpan failover)
    {
        output.WriteLine($"failover after {failover.TotalSeconds:F1} s; acknowledged {acknowledged.Count}; on the new primary HLEN "
            + $"{SentinelRig.Command(rig.ReplicaPort, "HLEN", _prefix + ":list")}, PUBSUB NUMSUB {SentinelRig.Command(rig.ReplicaPort, "PUBSUB", "NUMSUB", _prefix + ":changes").Replace('\n', ' ')}");
        foreach (var m in new[] { a, b })
        {
            output.WriteLine($"{m.Name}: {acknowledged.Count(m.IsBanned)} present; {m.Fleet.Status}; missing: {string.Join(' ', acknowledged.Where(t => !m.IsBanned(t)).Take(20))}");
            lock (m.Notices)
                output.WriteLine(string.Join("\n", m.Notices.Select(x => $"  {x.Kind} {x.Message}")));
        }
        return false;
    }
}
