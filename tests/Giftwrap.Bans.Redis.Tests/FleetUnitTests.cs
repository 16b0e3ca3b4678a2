// The pieces without Redis: record order and JSON, the rate cap, the [bans] reader.
namespace Giftwrap.Bans.Redis.Tests;

public sealed class FleetUnitTests
{
    private static FleetRecord Ban(long v, string origin = "a") =>
        new() { Target = BanTarget.Parse("192.0.2.1"), Kind = RecordKind.Ban, Version = v, Origin = origin, Expires = v + 1000 };

    [Fact]
    public void IsNewerThan_UnbanAtSameMillisecond_WinsOverBan()
    {
        var unban = FleetRecord.Unban(BanTarget.Parse("192.0.2.1"), 100, "b", null);
        Assert.True(unban.IsNewerThan(Ban(100)));
        Assert.False(Ban(100).IsNewerThan(unban));
        Assert.True(Ban(101).IsNewerThan(unban));
        Assert.False(Ban(99, "z").IsNewerThan(unban));
        Assert.True(Ban(100, "b").IsNewerThan(Ban(100, "a")));
    }

    [Fact]
    public void Json_RoundTrip_KeepsEveryField()
    {
        var r = Ban(1_700_000_000_000) with { Daemons = ["sshd", "in.fingerd"], Reason = "x\"y", Offences = 3, KeepUntil = 5 };
        var back = FleetRecord.Parse(r.ToJson(localOnly: true), out var localOnly, out var error);
        Assert.True(localOnly, error);
        Assert.Equal(r.ToJson(), back!.ToJson());
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{\"t\":\"10.1\",\"k\":\"B\",\"v\":1}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"X\",\"v\":1}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"B\",\"v\":\"1\"}")]
    [InlineData("{\"t\":5,\"k\":\"B\",\"v\":1}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"B\",\"v\":9000000000000000000}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"U\",\"v\":253402300800000}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"B\",\"v\":1,\"x\":-9000000000000000000}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"B\",\"v\":1,\"x\":9223372036854775807}")]
    [InlineData("{\"t\":\"10.0.0.1\",\"k\":\"U\",\"v\":1,\"keep\":9223372036854775807}")]
    public void Parse_Malformed_GivesNullAndReason(string json)
    {
        Assert.Null(FleetRecord.Parse(json, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Fact]
    public void Ledger_LineOfAGigabyte_SkippedAndReportedTheRestRead()
    {
        // 1.2 GB of NULs without a newline (a sparse file) between two records: read whole, the line
        // was a string past .NET's largest (OutOfMemoryException at every start of the gate).
        var dir = Directory.CreateTempSubdirectory("giftwrap-ledger-").FullName;
        try
        {
            var path = Path.Combine(dir, "fleet.ledger");
            var one = FleetRecord.FromEntry(new BanEntry { Target = BanTarget.Parse("192.0.2.1"), Origin = "a", Created = DateTimeOffset.UtcNow, Expires = DateTimeOffset.UtcNow.AddHours(1) });
            var two = FleetRecord.Unban(BanTarget.Parse("192.0.2.2"), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "a", null);
            using (var f = new FileStream(path, FileMode.Create, FileAccess.Write))
            {
                f.Write(System.Text.Encoding.UTF8.GetBytes(one.ToJson() + "\n"));
                f.SetLength(f.Length + 1_200_000_000L);
                f.Seek(0, SeekOrigin.End);
                f.Write(System.Text.Encoding.UTF8.GetBytes("\n" + two.ToJson() + "\n"));
            }
            var damaged = new List<int>();
            using (var ledger = FleetLedger.Open(path, (line, _) => damaged.Add(line)))
            {
                Assert.Equal(2, ledger.Count);
                Assert.NotNull(ledger.Get(BanTarget.Parse("192.0.2.1")));
                Assert.NotNull(ledger.Get(BanTarget.Parse("192.0.2.2")));
            }
            Assert.Equal([2], damaged);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void RateLimit_RefillsOverTheWindow()
    {
        var limit = new FleetRateLimit(new FleetRate(2, TimeSpan.FromMinutes(1)));
        Assert.True(limit.TryTake(0));
        Assert.True(limit.TryTake(0));
        Assert.False(limit.TryTake(10));
        Assert.True(limit.TryTake(30_010));
        Assert.False(limit.TryTake(30_020));
    }

    [Theory]
    [InlineData("100/min", 100, 60)]
    [InlineData("5/s", 5, 1)]
    [InlineData("1000/h", 1000, 3600)]
    [InlineData("unlimited", 0, 0)]
    public void FleetRate_Parse_Accepts(string text, int count, int seconds)
    {
        Assert.True(FleetRate.TryParse(text, out var r, out var error), error);
        Assert.Equal(count, r.Count);
        Assert.Equal(TimeSpan.FromSeconds(seconds), r.Window);
    }

    [Theory]
    [InlineData("100")]
    [InlineData("0/min")]
    [InlineData("-1/min")]
    [InlineData("ten/min")]
    [InlineData("10/fortnight")]
    public void FleetRate_Parse_RefusesWithReason(string text)
    {
        Assert.False(FleetRate.TryParse(text, out _, out var error));
        Assert.Contains(text, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Reader_BansSection_ReadsFleetKeysAndReportsEveryError()
    {
        string[] lines =
        [
            "[tables]", "allow = /etc/hosts.allow",
            "[bans]", "store = /tmp/x", "redis = 10.0.0.5:6379,password=s ; the fleet", "fleet_rate = 10/s",
            "fleet_key = site1", "fleet_resync = 1m", "fleet_max_skew = 30s",
        ];
        var o = FleetOptionsReader.Parse("g.conf", lines, out var errors);
        Assert.Empty(errors);
        Assert.Equal("10.0.0.5:6379,password=s", o!.Redis);
        Assert.Equal(new FleetRate(10, TimeSpan.FromSeconds(1)), o.Rate);
        Assert.Equal("site1", o.KeyPrefix);
        Assert.Equal(TimeSpan.FromMinutes(1), o.ResyncInterval);
        Assert.Equal(TimeSpan.FromSeconds(30), o.MaxSkew);
        Assert.Equal(TimeSpan.FromMinutes(10), FleetOptionsReader.Parse("g.conf", ["[bans]", "redis = r:1"], out _)!.MaxSkew);

        FleetOptionsReader.Parse("g.conf", ["[bans]", "redis = r:1", "fleet_rate = lots", "fleet_resync = soon"], out errors);
        Assert.Equal(["g.conf:4:16: fleet_resync = soon: must be a duration such as 500ms, 30s, 10m, 2h, 1d, 1w or a number of seconds",
            "g.conf:3:14: fleet_rate: \"lots\" is not a rate (such as 100/min, 5/s, 1000/h, or unlimited)"], errors);
        // A fleet key outside [bans] is no longer ignored: the one reader refuses keys where they do not belong.
        FleetOptionsReader.Parse("g.conf", ["[tables]", "redis = r:1"], out errors);
        Assert.Equal(["g.conf:2:1: unknown key \"redis\" in [tables]; its keys are allow, deny"], errors);
        Assert.Null(FleetOptionsReader.Parse("g.conf", ["[bans]", "store = /x"], out _));
    }
}
