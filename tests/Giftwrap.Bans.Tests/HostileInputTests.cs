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

    [Theory]
    [InlineData("journal")]
    [InlineData("snapshot")]
    public void Open_LineOfRecordStartsWithOneChecksumAtItsEnd_ReadInBoundedTime(string file)
    {
        // A damaged line is searched for intact records: a start ("B\t") tried against every end
        // far away made a line of a few megabytes cost hours. One intact ban stays readable after it.
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.1"), Duration = TimeSpan.FromDays(1) });
            store.Compact();
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.2"), Duration = TimeSpan.FromDays(1) });
        }
        var path = Path.Combine(dir.StoreDir, file);
        var lines = File.ReadAllLines(path).ToList();
        var hostile = new StringBuilder();
        while (hostile.Length < 3_000_000)
            hostile.Append("B\t");
        hostile.Append("\t0123abcd");
        lines.Insert(1, hostile.ToString());
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        var clock = Stopwatch.StartNew();
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.1"), "sshd", DateTimeOffset.UtcNow));
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.2"), "sshd", DateTimeOffset.UtcNow));
        Assert.Contains(reopened.Problems, p => p.File == path && p.Line == 2);
    }

    [Fact]
    public void Open_SnapshotLineOfAGigabyte_SkippedAndReportedTheRestRead()
    {
        // 1.2 GB of NULs without a newline (a sparse file: no disk written) between two records: read
        // whole, the line was a string past .NET's largest (OutOfMemoryException); the journal's reader
        // already skipped lines past 4 MiB, and the snapshot's now does the same.
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.1"), Duration = TimeSpan.FromDays(1) });
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.3"), Duration = TimeSpan.FromDays(1) });
            store.Compact();
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.2"), Duration = TimeSpan.FromDays(1) });
        }
        var path = Path.Combine(dir.StoreDir, "snapshot");
        var lines = File.ReadAllLines(path);
        using (var f = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            f.Write(Encoding.UTF8.GetBytes(string.Join('\n', lines[..2]) + "\n"));
            f.SetLength(f.Length + 1_200_000_000L);
            f.Seek(0, SeekOrigin.End);
            f.Write(Encoding.UTF8.GetBytes("\n" + string.Join('\n', lines[2..]) + "\n"));
        }
        try
        {
            using var reopened = BanStore.Open(dir.Options(), watch: false);
            foreach (var a in new[] { "192.0.2.1", "192.0.2.2", "192.0.2.3" })
                Assert.NotNull(reopened.Find(IPAddress.Parse(a), "sshd", DateTimeOffset.UtcNow));
            Assert.Contains(reopened.Problems, p => p.File == path && p.Line == 3 && p.Message.Contains("longer than", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var copy in Directory.GetFiles(dir.StoreDir, "snapshot.damaged-*"))
                File.Delete(copy);
        }
    }

    [Fact]
    public void Open_SnapshotHeaderClaimingBillionsOfRecords_NoMemoryReservedForThem()
    {
        // The header's count sizes the table before reading: a damaged or hostile "count=2000000000"
        // reserved room for 50 million bans (about 3 GB) for a file holding two.
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.1"), Duration = TimeSpan.FromDays(1) });
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.2"), Duration = TimeSpan.FromDays(1) });
            store.Compact();
        }
        var path = Path.Combine(dir.StoreDir, "snapshot");
        var text = File.ReadAllText(path);
        File.WriteAllText(path, text.Replace(" count=2\n", " count=2000000000\n", StringComparison.Ordinal));
        var before = GC.GetAllocatedBytesForCurrentThread();
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 64L << 20, $"{allocated:N0} bytes allocated to open a store of two bans");
        Assert.Equal(2, reopened.List(DateTimeOffset.UtcNow).Count);
    }

    [Fact]
    public void Ban_AfterARemoteBanWithTheLargestOffenceCount_StillRecordedAndRead()
    {
        // A rogue fleet member's "n": 2147483647: the next local ban of that target counted one more,
        // wrapped to a negative count, and wrote a record its own reader refused: acknowledged, lost.
        using var dir = new TempStore();
        var target = BanTarget.Parse("192.0.2.5");
        var then = DateTimeOffset.UtcNow.AddHours(-2);
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            var remote = new BanEntry { Target = target, Created = then, Expires = then.AddHours(1), Offences = int.MaxValue, Origin = "rogue" };
            Assert.Equal(BanOutcome.Banned, store.ApplyRemote(new BanChange { Kind = BanChangeKind.Banned, Target = target, Entry = remote, At = then, Origin = "rogue" }).Outcome);
            Assert.Equal(BanOutcome.Banned, store.Ban(new BanRequest { Target = target, Duration = TimeSpan.FromHours(1) }).Outcome);
            Assert.NotNull(store.Find(IPAddress.Parse("192.0.2.5"), "sshd", DateTimeOffset.UtcNow));
            Assert.Empty(store.Problems);
        }
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.5"), "sshd", DateTimeOffset.UtcNow));
        Assert.Empty(reopened.Problems);
    }
}
