// The ban store against input no administrator would write but a library caller, a feed or
// a damaged disk can hand it: a ban length past the year 9999, a reason of megabytes, a
// journal line built to make salvage slow, a snapshot line of many megabytes. Each is banned
// (fail closed) or reported, never a crash, a lost acknowledged ban or a hang.
using System.Diagnostics;
using System.Net;
using System.Text;

namespace Giftwrap.Bans.Tests;

public sealed class HostileInputTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Ban_LengthPastTheLastRepresentableTime_BannedUntilThenNotACrash()
    {
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(new ManualTime(T0)), watch: false))
        {
            // A CrowdSec decision of 11,000 years, or a library caller's TimeSpan.MaxValue.
            var result = store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.1"), Duration = TimeSpan.MaxValue, Escalate = false });
            Assert.Equal(BanOutcome.Banned, result.Outcome);
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.2"), Duration = TimeSpan.FromDays(3_000_000) });
            // A repeat offence of one that long escalates past the end of time too.
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.2"), Duration = TimeSpan.FromDays(3_000_000) });
        }
        using var reopened = BanStore.Open(dir.Options(new ManualTime(T0)), watch: false);
        Assert.Empty(reopened.Problems);
        foreach (var a in new[] { "192.0.2.1", "192.0.2.2" })
        {
            var e = reopened.Find(IPAddress.Parse(a), "sshd", new DateTimeOffset(9999, 1, 1, 0, 0, 0, TimeSpan.Zero));
            Assert.NotNull(e);
        }
    }

    [Fact]
    public void Ban_ReasonOfMegabytes_AcknowledgedBanKeptAndReadBack()
    {
        using var dir = new TempStore();
        var reason = new string('r', 5_000_000);
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            var result = store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.7"), Duration = TimeSpan.FromDays(1), Reason = reason });
            Assert.Equal(BanOutcome.Banned, result.Outcome);
            Assert.NotNull(store.Find(IPAddress.Parse("192.0.2.7"), "sshd", DateTimeOffset.UtcNow));
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.8"), Duration = TimeSpan.FromDays(1) });
        }
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.7"), "sshd", DateTimeOffset.UtcNow));
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.8"), "sshd", DateTimeOffset.UtcNow));
        Assert.Empty(reopened.Problems);
    }

    [Fact]
    public void Ban_DaemonListOfMegabytes_RefusedAndNothingWritten()
    {
        using var dir = new TempStore();
        using var store = BanStore.Open(dir.Options(), watch: false);
        var daemons = Enumerable.Range(0, 500_000).Select(i => $"daemon{i}").ToArray();
        var result = store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.9"), Duration = TimeSpan.FromDays(1), Daemons = daemons });
        Assert.Equal(BanOutcome.Invalid, result.Outcome);
        Assert.Contains("at most", result.Message, StringComparison.Ordinal);
        var remote = store.ApplyRemote(new BanChange
        {
            Kind = BanChangeKind.Banned,
            Target = BanTarget.Parse("192.0.2.10"),
            At = DateTimeOffset.UtcNow,
            Entry = new BanEntry { Target = BanTarget.Parse("192.0.2.10"), Created = DateTimeOffset.UtcNow, Expires = DateTimeOffset.UtcNow.AddDays(1), Daemons = daemons },
        });
        Assert.Equal(BanOutcome.Invalid, remote.Outcome);
        Assert.Empty(store.Problems);
    }
}
