// The [crowdsec] section as serve reads it (errors named with file and line, a missing or
// empty key file refused before anything starts), and CrowdSec's Go-style durations.
using Giftwrap.Configuration;

namespace Giftwrap.Bans.CrowdSec.Tests;

public sealed class OptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-crowdsec-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (CrowdSecOptions? Options, List<string> Errors) Read(string text)
    {
        var file = ConfigFile.Parse("/etc/giftwrap/giftwrap.conf", text.Split('\n'));
        var options = CrowdSecOptionsReader.FromFile(file);
        return (options, file.Errors);
    }

    private string Key(string text)
    {
        var path = Path.Combine(_dir, "key");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Read_TheSection_TakesEveryKey()
    {
        var (options, errors) = Read($"[bans]\n[crowdsec]\nlapi = http://127.0.0.1:8080\napi_key_file = {Key("abc123\n")}\npoll = 3s\norigins = crowdsec cscli\ntimeout = 5s\nresync = 2m");
        Assert.Empty(errors);
        Assert.Equal(new Uri("http://127.0.0.1:8080"), options!.Lapi);
        Assert.Equal("abc123", options.ApiKey);
        Assert.Equal(TimeSpan.FromSeconds(3), options.Poll);
        Assert.Equal(TimeSpan.FromSeconds(5), options.Timeout);
        Assert.Equal(TimeSpan.FromMinutes(2), options.Resync);
        Assert.Equal(["crowdsec", "cscli"], options.Origins);
    }

    [Fact]
    public void Read_NoSection_NoBouncer()
    {
        var (options, errors) = Read("[bans]\nstore = /var/lib/giftwrap");
        Assert.Null(options);
        Assert.Empty(errors);
    }

    [Theory]
    [InlineData("lapi = ftp://x\napi_key_file = KEY", "/etc/giftwrap/giftwrap.conf:3:", "is not an http or https URL")]
    [InlineData("lapi = http://127.0.0.1:8080", "/etc/giftwrap/giftwrap.conf:3:", "needs api_key_file")]
    [InlineData("lapi = http://127.0.0.1:8080\napi_key_file = /nonexistent/key", "/etc/giftwrap/giftwrap.conf:4:", "cannot read /nonexistent/key")]
    [InlineData("lapi = http://127.0.0.1:8080\napi_key_file = EMPTY", "/etc/giftwrap/giftwrap.conf:4:", "does not hold one key")]
    [InlineData("api_key_file = KEY", "/etc/giftwrap/giftwrap.conf", "needs lapi = URL")]
    [InlineData("lapi = http://127.0.0.1:8080\napi_key_file = KEY\npoll = often", "/etc/giftwrap/giftwrap.conf:5:", "poll")]
    public void Read_AMistake_IsAnErrorOfTheFile_WithItsPlace(string body, string place, string message)
    {
        var key = Key("abc123\n");
        var empty = Path.Combine(_dir, "empty");
        File.WriteAllText(empty, "\n");
        var (_, errors) = Read("[bans]\n[crowdsec]\n" + body.Replace("EMPTY", empty, StringComparison.Ordinal).Replace("KEY", key, StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith(place, StringComparison.Ordinal) && e.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void Read_WithoutBans_IsAnError()
    {
        var (_, errors) = Read($"[crowdsec]\nlapi = http://127.0.0.1:8080\napi_key_file = {Key("k")}");
        Assert.Contains(errors, e => e.Contains("needs a [bans] section", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("4h", 4 * 3600.0)]
    [InlineData("3h59m58.5s", 4 * 3600 - 1.5)]
    [InlineData("29m59.183511133s", 30 * 60 - 0.816488867)]
    [InlineData("-29.537599ms", -0.029537599)]
    [InlineData("150ms", 0.15)]
    [InlineData("2us", 0.000002)]
    [InlineData("0", 0.0)]
    [InlineData("0s", 0.0)]
    public void GoDuration_ReadsCrowdSecsDurations(string text, double seconds)
    {
        Assert.True(GoDuration.TryParse(text, out var d));
        Assert.Equal(seconds, d.TotalSeconds, 6);
    }

    [Theory]
    [InlineData("")]
    [InlineData("4")]
    [InlineData("h")]
    [InlineData("4d")]
    [InlineData("1h-2m")]
    [InlineData("99999999999999999h")]
    [InlineData("1.2.3s")]
    public void GoDuration_RefusesWhatIsNotOne(string text) => Assert.False(GoDuration.TryParse(text, out _));
}
