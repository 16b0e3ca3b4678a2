namespace Giftwrap.Bans.Tests;

public class BanTargetTests
{
    [Theory]
    [InlineData("192.0.2.1", "192.0.2.1", "192.0.2.1")]
    [InlineData("10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/255.0.0.0")]
    [InlineData("::ffff:192.0.2.9", "192.0.2.9", "192.0.2.9")]
    [InlineData("::ffff:10.0.0.0/104", "10.0.0.0/8", "10.0.0.0/255.0.0.0")]
    [InlineData("2001:DB8::1", "2001:db8::1", "[2001:db8::1]")]
    [InlineData("[2001:db8::]/64", "2001:db8::/64", "[2001:db8::]/64")]
    [InlineData(" 2001:db8::/32 ", "2001:db8::/32", "[2001:db8::]/32")]
    public void Parse_ValidTarget_Normalised(string text, string expected, string hostsPattern)
    {
        var t = BanTarget.Parse(text);
        Assert.Equal(expected, t.ToString());
        Assert.Equal(hostsPattern, t.ToHostsPattern());
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.1")]
    [InlineData("010.0.0.1")]
    [InlineData("1.2.3.256")]
    [InlineData("1.2.3.4/33")]
    [InlineData("1.2.3.4/24")]
    [InlineData("2001:db8::1/64")]
    [InlineData("2001:db8::/129")]
    [InlineData("fe80::1%eth0")]
    [InlineData("example.com")]
    [InlineData("1.2.3.4/")]
    [InlineData("1.2.3.4/-1")]
    public void TryParse_Malformed_FalseWithReason(string text)
    {
        Assert.False(BanTarget.TryParse(text, out _, out var error));
        Assert.NotEmpty(error);
    }

    [Fact]
    public void Overlaps_PrefixAndAddress_BothWays()
    {
        var net = BanTarget.Parse("10.0.0.0/8");
        var host = BanTarget.Parse("10.1.2.3");
        Assert.True(net.Overlaps(host));
        Assert.True(host.Overlaps(net));
        Assert.False(BanTarget.Parse("11.0.0.0/8").Overlaps(host));
        Assert.False(BanTarget.Parse("2001:db8::/32").Overlaps(host));
    }

    [Theory]
    [InlineData("30s", 30)]
    [InlineData("10m", 600)]
    [InlineData("1h", 3600)]
    [InlineData("2d", 172800)]
    [InlineData("1w", 604800)]
    [InlineData("600", 600)]
    public void Duration_Valid_Parsed(string text, int seconds)
    {
        Assert.True(BanDuration.TryParse(text, out var d, out _));
        Assert.Equal(TimeSpan.FromSeconds(seconds), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5m")]
    [InlineData("1.5h")]
    [InlineData("10x")]
    [InlineData("h")]
    [InlineData("99999999999w")]
    public void Duration_Malformed_Refused(string text) => Assert.False(BanDuration.TryParse(text, out _, out _));

    [Theory]
    [InlineData("permanent")]
    [InlineData("-1")]
    public void Duration_Permanent_Null(string text)
    {
        Assert.True(BanDuration.TryParse(text, out var d, out _));
        Assert.Null(d);
    }
}
