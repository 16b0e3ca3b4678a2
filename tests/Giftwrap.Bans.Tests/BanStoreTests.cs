using System.Net;

namespace Giftwrap.Bans.Tests;

public class BanStoreTests
{
    private static readonly DateTimeOffset T0 = new(2030, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static BanRequest Req(string target, string? duration = null, params string[] daemons) => new()
    {
        Target = BanTarget.Parse(target),
        Duration = duration is null ? null : (BanDuration.TryParse(duration, out var d, out _) ? d : throw new ArgumentException(duration)),
        Daemons = daemons.Length > 0 ? daemons : null,
    };

    [Fact]
    public void Find_AfterExpiry_NotBanned()
    {
        using var dir = new TempStore();
        var time = new ManualTime(T0);
        using var store = BanStore.Open(dir.Options(time), watch: false);
        Assert.Equal(BanOutcome.Banned, store.Ban(Req("192.0.2.10", "10m")).Outcome);
        var ip = IPAddress.Parse("192.0.2.10");
        Assert.NotNull(store.Find(ip, "sshd", T0 + TimeSpan.FromMinutes(9)));
        Assert.Null(store.Find(ip, "sshd", T0 + TimeSpan.FromMinutes(10)));
        time.Advance(TimeSpan.FromMinutes(11));
        Assert.Empty(store.List(time.Now));
    }

    [Fact]
    public void Find_PrefixDaemonsAndMappedAddresses_Matched()
    {
        using var dir = new TempStore();
        using var store = BanStore.Open(dir.Options(new ManualTime(T0)), watch: false);
        store.Ban(Req("198.51.100.0/24", "1h", "sshd"));
        store.Ban(Req("2001:db8:1::/48", "1h"));
        Assert.NotNull(store.Find(IPAddress.Parse("198.51.100.77"), "SSHD", T0));
        Assert.NotNull(store.Find(IPAddress.Parse("::ffff:198.51.100.77"), "sshd", T0));
        Assert.Null(store.Find(IPAddress.Parse("198.51.100.77"), "vsftpd", T0));
        Assert.Null(store.Find(IPAddress.Parse("198.51.101.1"), "sshd", T0));
        Assert.NotNull(store.Find(IPAddress.Parse("2001:db8:1:2::5"), "any", T0));
        Assert.Null(store.Find(IPAddress.Parse("2001:db8:2::5"), "any", T0));
    }

    [Fact]
    public void Ban_RepeatOffender_EscalatesUpToMax()
    {
        using var dir = new TempStore();
        var time = new ManualTime(T0);
        using var store = BanStore.Open(dir.Options(time) with { BanTime = TimeSpan.FromHours(1), IncrementFactor = 2, MaxTime = TimeSpan.FromHours(5) }, watch: false);
        var expected = new[] { 1, 2, 4, 5, 5 };
        foreach (var hours in expected)
        {
            var e = store.Ban(Req("203.0.113.5")).Entry!;
            Assert.Equal(TimeSpan.FromHours(hours), e.Expires - time.Now);
            time.Advance(TimeSpan.FromHours(6)); // the ban has expired: the next one is a repeat offence
        }
        Assert.Equal(5, store.Get(BanTarget.Parse("203.0.113.5"))!.Offences);
    }

    [Fact]
    public void Ban_ManyInOneSlash64_AggregatedIntoOneBan()
    {
        using var dir = new TempStore();
        using var store = BanStore.Open(dir.Options(new ManualTime(T0)) with { AggregateV6Threshold = 3 }, watch: false);
        store.Ban(Req("2001:db8:5::1"));
        store.Ban(Req("2001:db8:5::2"));
        Assert.Equal(2, store.List(T0).Count);
        var third = store.Ban(Req("2001:db8:5::3"));
        Assert.Equal("2001:db8:5::/64", third.Entry!.Target.ToString());
        var active = Assert.Single(store.List(T0));
        Assert.Equal("2001:db8:5::/64", active.Target.ToString());
        Assert.NotNull(store.Find(IPAddress.Parse("2001:db8:5::ffff"), "sshd", T0));
        Assert.Null(store.Find(IPAddress.Parse("2001:db8:6::1"), "sshd", T0));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.5.0.0/16")]
    [InlineData("0.0.0.0/0")]
    [InlineData("::1")]
    [InlineData("::/0")]
    [InlineData("10.20.30.40")]
    [InlineData("10.0.0.0/7")]
    [InlineData("192.0.2.7")]
    public void Ban_ProtectedAddress_RefusedLocallyAndRemotely(string target)
    {
        using var dir = new TempStore();
        var options = dir.Options(new ManualTime(T0)) with { Protect = [BanTarget.Parse("10.0.0.0/8"), BanTarget.Parse("192.0.2.7")] };
        using var store = BanStore.Open(options, watch: false);
        Assert.Equal(BanOutcome.Protected, store.Ban(Req(target)).Outcome);
        var t = BanTarget.Parse(target);
        var remote = new BanChange
        {
            Kind = BanChangeKind.Banned,
            Target = t,
            At = T0,
            Origin = "evil",
            Entry = new BanEntry { Target = t, Created = T0, Expires = T0.AddHours(1), Origin = "evil" },
        };
        Assert.Equal(BanOutcome.Protected, store.ApplyRemote(remote).Outcome);
        Assert.Empty(store.List(T0));
        Assert.Null(store.Find(IPAddress.Loopback, "sshd", T0));
    }

    [Theory]
    [InlineData("::/0", "::/0 is protected (it holds 127.0.0.0/8 as the IPv4-mapped ::ffff:127.0.0.0/104): not banned")]
    [InlineData("::/80", "::/80 is protected (it holds 127.0.0.0/8 as the IPv4-mapped ::ffff:127.0.0.0/104): not banned")]
    [InlineData("0.0.0.0/0", "0.0.0.0/0 is protected (it overlaps 127.0.0.0/8): not banned")]
    [InlineData("::1", "::1 is protected (it overlaps ::1): not banned")]
    public void Ban_IPv6PrefixHoldingTheMappedIPv4Range_SaysWhyItIsProtected(string target, string message)
    {
        using var dir = new TempStore();
        // Loopback is protected by default (127.0.0.0/8 and ::1).
        using var store = BanStore.Open(dir.Options(new ManualTime(T0)), watch: false);
        var result = store.Ban(Req(target));
        Assert.Equal(BanOutcome.Protected, result.Outcome);
        Assert.Equal(message, result.Message);
    }

    [Fact]
    public void ApplyRemote_BanAndUnban_JournaledAndReportedAsRemote()
    {
        using var dir = new TempStore();
        using var store = BanStore.Open(dir.Options(new ManualTime(T0)), watch: false);
        var seen = new List<BanChangedEventArgs>();
        store.Changed += (_, e) => seen.Add(e);
        var t = BanTarget.Parse("198.51.100.9");
        var entry = new BanEntry { Target = t, Created = T0, Expires = T0.AddHours(2), Origin = "peer", Reason = "scan" };
        Assert.Equal(BanOutcome.Banned, store.ApplyRemote(new BanChange { Kind = BanChangeKind.Banned, Target = t, Entry = entry, At = T0, Origin = "peer" }).Outcome);
        Assert.True(seen.Single().Change.IsRemote);
        Assert.Equal("peer", store.Find(IPAddress.Parse("198.51.100.9"), "x", T0)!.Origin);
        using (var reopened = BanStore.Open(dir.Options(new ManualTime(T0)), watch: false))
            Assert.NotNull(reopened.Find(IPAddress.Parse("198.51.100.9"), "x", T0));
        Assert.Equal(BanOutcome.Unbanned, store.ApplyRemote(new BanChange { Kind = BanChangeKind.Unbanned, Target = t, At = T0.AddMinutes(1), Origin = "peer" }).Outcome);
        Assert.Null(store.Find(IPAddress.Parse("198.51.100.9"), "x", T0.AddMinutes(2)));
    }

    [Fact]
    public void Unban_KeepsOffenceCount_NotBannedSecondTime()
    {
        using var dir = new TempStore();
        var time = new ManualTime(T0);
        using var store = BanStore.Open(dir.Options(time), watch: false);
        store.Ban(Req("192.0.2.99", "1h"));
        Assert.Equal(BanOutcome.Unbanned, store.Unban(BanTarget.Parse("192.0.2.99")).Outcome);
        Assert.Null(store.Find(IPAddress.Parse("192.0.2.99"), "sshd", T0));
        Assert.Equal(BanOutcome.NotBanned, store.Unban(BanTarget.Parse("192.0.2.99")).Outcome);
        Assert.Equal(2, store.Ban(Req("192.0.2.99", "1h")).Entry!.Offences);
    }

    [Fact]
    public void SecondStore_SeesBanAndUnban_WithoutReopening()
    {
        using var dir = new TempStore();
        using var writer = BanStore.Open(dir.Options(), watch: false);
        using var reader = BanStore.Open(dir.Options(), watch: true);
        var ip = IPAddress.Parse("192.0.2.123");
        writer.Ban(Req("192.0.2.123", "1h"));
        Assert.True(SpinWait.SpinUntil(() => reader.Find(ip, "sshd", DateTimeOffset.UtcNow) is not null, 10_000));
        writer.Unban(BanTarget.Parse("192.0.2.123"));
        Assert.True(SpinWait.SpinUntil(() => reader.Find(ip, "sshd", DateTimeOffset.UtcNow) is null, 10_000));
    }

    [Fact]
    public void Compaction_ByWriter_ReaderReloadsAndKeepsBans()
    {
        using var dir = new TempStore();
        using var writer = BanStore.Open(dir.Options(), watch: false);
        writer.CompactThreshold = 2_000;
        using var reader = BanStore.Open(dir.Options(), watch: true);
        for (var i = 1; i <= 60; i++)
            writer.Ban(Req($"198.51.100.{i}", "1h"));
        Assert.True(File.Exists(Path.Combine(dir.StoreDir, "snapshot")));
        Assert.True(SpinWait.SpinUntil(() => reader.List(DateTimeOffset.UtcNow).Count == 60, 10_000));
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        Assert.Equal(60, reopened.List(DateTimeOffset.UtcNow).Count);
        Assert.Empty(reopened.Problems);
    }

    [Fact]
    public void CorruptJournalLine_ReportedWithLine_OtherBansKept()
    {
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            store.Ban(Req("192.0.2.1", "1h"));
            store.Ban(Req("192.0.2.2", "1h"));
            store.Ban(Req("192.0.2.3", "1h"));
        }
        var journal = Path.Combine(dir.StoreDir, "journal");
        var lines = File.ReadAllLines(journal);
        lines[2] = lines[2].Replace("192.0.2.2", "192.0.2.9", StringComparison.Ordinal); // checksum no longer matches
        lines = [.. lines, "garbage \u0001 line"];
        File.WriteAllText(journal, string.Join('\n', lines) + "\n");
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        var now = DateTimeOffset.UtcNow;
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.1"), "sshd", now));
        Assert.NotNull(reopened.Find(IPAddress.Parse("192.0.2.3"), "sshd", now));
        Assert.Null(reopened.Find(IPAddress.Parse("192.0.2.9"), "sshd", now));
        Assert.Contains(reopened.Problems, p => p.File == journal && p.Line == 3);
        Assert.Contains(reopened.Problems, p => p.File == journal && p.Line == 5);
        // Still writable, and a compaction keeps the damaged files for the administrator.
        reopened.Ban(Req("192.0.2.4", "1h"));
        reopened.Compact();
        Assert.NotEmpty(Directory.GetFiles(dir.StoreDir, "journal.damaged-*"));
        using var again = BanStore.Open(dir.Options(), watch: false);
        Assert.Equal(3, again.List(DateTimeOffset.UtcNow).Count);
    }

    [Fact]
    public void CorruptSnapshot_ReportedAndKnownBansKept()
    {
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            for (var i = 1; i <= 5; i++)
                store.Ban(Req($"192.0.2.{i}", "1h"));
            store.Compact();
        }
        var snapshot = Path.Combine(dir.StoreDir, "snapshot");
        var lines = File.ReadAllLines(snapshot);
        lines[3] = "B\tnot-an-address";
        File.WriteAllLines(snapshot, lines[..^1]); // damaged line, and the #end line lost
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        Assert.Equal(4, reopened.List(DateTimeOffset.UtcNow).Count);
        Assert.Contains(reopened.Problems, p => p.File == snapshot && p.Line == 4);
        Assert.Contains(reopened.Problems, p => p.File == snapshot && p.Message.Contains("#end", StringComparison.Ordinal));
    }

    [Fact]
    public void TornLastRecord_RemovedAndReported_NextBanClean()
    {
        using var dir = new TempStore();
        using (var store = BanStore.Open(dir.Options(), watch: false))
            store.Ban(Req("192.0.2.1", "1h"));
        var journal = Path.Combine(dir.StoreDir, "journal");
        File.AppendAllText(journal, "B\t192.0.2.2\t*\t17");
        using var reopened = BanStore.Open(dir.Options(), watch: false);
        Assert.Contains(reopened.Problems, p => p.Message.Contains("incomplete", StringComparison.Ordinal));
        reopened.Ban(Req("192.0.2.3", "1h"));
        using var again = BanStore.Open(dir.Options(), watch: false);
        Assert.Equal(2, again.List(DateTimeOffset.UtcNow).Count);
        Assert.Empty(again.Problems);
    }

    [Fact]
    public void OneMillionBans_LoadAndLookup()
    {
        using var dir = new TempStore();
        var time = new ManualTime(T0);
        // The snapshot a compaction would write, made directly: this test is about loading and lookups.
        Directory.CreateDirectory(dir.StoreDir);
        using (var w = new StreamWriter(Path.Combine(dir.StoreDir, "snapshot")))
        {
            w.Write("#giftwrap-bans snapshot 1 gen=1 count=1000000\n");
            for (var i = 0; i < 1_000_000; i++)
            {
                var target = BanTarget.FromAddress(new IPAddress(new byte[] { (byte)(11 + (i >> 16)), (byte)(i >> 8), (byte)i, 1 }));
                var entry = new BanEntry { Target = target, Created = T0, Expires = T0.AddDays(1), Reason = "bulk", Origin = "test-host" };
                w.Write(Giftwrap.Bans.Storage.JournalFormat.Format(new BanChange { Kind = BanChangeKind.Banned, Target = target, Entry = entry, At = T0 }));
                w.Write('\n');
            }
            w.Write("#end\n");
        }
        File.WriteAllText(Path.Combine(dir.StoreDir, "journal"), "#giftwrap-bans journal 1 gen=1\n");
        GC.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        using var store = BanStore.Open(dir.Options(time), watch: false);
        var used = GC.GetTotalMemory(forceFullCollection: true) - before;
        Assert.Empty(store.Problems);
        Assert.Equal(1_000_000, store.Count);
        Assert.True(used < 200L << 20, $"1,000,000 bans take {used >> 20} MB");
        Assert.NotNull(store.Find(IPAddress.Parse("11.0.0.1"), "sshd", T0));
        Assert.NotNull(store.Find(IPAddress.Parse("26.66.63.1"), "sshd", T0)); // i = 999,999
        Assert.Null(store.Find(IPAddress.Parse("11.0.0.2"), "sshd", T0));
        Assert.Null(store.Find(IPAddress.Parse("26.66.64.1"), "sshd", T0));
        // Writing on top of a million bans, with a bulk of new ones in one fsync.
        var more = store.BanMany(Enumerable.Range(0, 10_000).Select(i => new BanRequest
        {
            Target = BanTarget.FromAddress(new IPAddress(new byte[] { 100, 64, (byte)(i >> 8), (byte)i })),
        }));
        Assert.All(more, r => Assert.Equal(BanOutcome.Banned, r.Outcome));
        Assert.NotNull(store.Find(IPAddress.Parse("100.64.39.15"), "sshd", T0)); // i = 9,999
    }
}
