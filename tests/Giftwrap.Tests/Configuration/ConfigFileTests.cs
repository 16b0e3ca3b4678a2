// The one configuration reader: every mistake an administrator makes in giftwrap.conf is
// an error with file:line:column (or the variable or switch that set it), all at once; the
// schema and giftwrap.conf(5) agree; one duration grammar; numeric addresses only.
using Giftwrap.Configuration;
using Giftwrap.Tests.Conformance;

namespace Giftwrap.Tests.Configuration;

public class ConfigFileTests
{
    private static ConfigFile Parse(params string[] lines) => ConfigFile.Parse("g.conf", lines);

    [Theory]
    [InlineData("[service:web]|deamon = web|listen = 127.0.0.1:80|forward = 127.0.0.1:81", "g.conf:2:1: unknown key \"deamon\" in [service:web] (did you mean daemon?)")]
    [InlineData("[limits]|max_conections = 5", "g.conf:2:1: unknown key \"max_conections\" in [limits] (did you mean max_connections?)")]
    [InlineData("[servce:web]|listen = 127.0.0.1:80", "g.conf:1:1: unknown section [servce:web] (did you mean [service:web]?)")]
    [InlineData("[table]|allow = /x", "g.conf:1:1: unknown section [table] (did you mean [tables]?)")]
    [InlineData("[tables]|  alow = /x", "g.conf:2:3: unknown key \"alow\" in [tables] (did you mean allow?)")]
    [InlineData("[bans|store = /x", "g.conf:1:1: malformed section header \"[bans\" (write [name])")]
    [InlineData("[bans]|store", "g.conf:2:1: \"store\" is not key = value")]
    [InlineData("[bans]|store = /a|store = /b", "g.conf:3:1: store is set twice in [bans] (first at line 2)")]
    [InlineData("[limits]|decision_timeout = 0", "g.conf:2:20: decision_timeout = 0: must be a duration")]
    [InlineData("[ident]|port = 99999", "g.conf:2:8: port = 99999: must be a whole number from 1 to 65535")]
    [InlineData("[metrics]|listen = 127.0.0.1:99999", "g.conf:2:10: listen = 127.0.0.1:99999: \"127.0.0.1:99999\": port 99999 is out of range (1 to 65535)")]
    [InlineData("[metrics]|listen = localhost:31800", "host names are not looked up here; write the address, such as 127.0.0.1:31800 or [::1]:31800")]
    [InlineData("[metrics]|listen = ::1:80", "write an IPv6 address in brackets")]
    [InlineData("[service]|listen = 127.0.0.1:1", "g.conf:1:1: [service] needs a name: [service:NAME]")]
    [InlineData("store = /x", "g.conf:1:1: \"store\" comes before any [section]")]
    [InlineData("[limits]|[limits]", "g.conf:2:1: section [limits] appears twice (first at line 1): merge them")]
    [InlineData("[bans]|protect_loopback = maybe", "g.conf:2:20: protect_loopback = maybe: must be yes or no")]
    [InlineData("[bans]|increment_factor = 0.5", "must be a number from 1 to 1000")]
    public void Read_Mistake_IsAnErrorWithFileLineColumn(string text, string expected)
    {
        var file = Parse(text.Split('|'));
        Assert.Contains(file.Errors, e => e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Read_ManyMistakes_EveryOneReportedInOrder()
    {
        var file = Parse("[tables]", "alow = /x", "[limits]", "max_conections = 1", "decision_timeout = soon", "[table]", "x = 1", "[bans", "store");
        Assert.Equal(6, file.Errors.Count);
        Assert.StartsWith("g.conf:2:1:", file.Errors[0], StringComparison.Ordinal);
        Assert.StartsWith("g.conf:4:1:", file.Errors[1], StringComparison.Ordinal);
        Assert.StartsWith("g.conf:5:20:", file.Errors[2], StringComparison.Ordinal);
        Assert.StartsWith("g.conf:6:1:", file.Errors[3], StringComparison.Ordinal);
        Assert.StartsWith("g.conf:8:1:", file.Errors[4], StringComparison.Ordinal);
        Assert.StartsWith("g.conf:9:1:", file.Errors[5], StringComparison.Ordinal);
    }

    [Fact]
    public void Read_CorrectFile_NoErrors_ValuesAndDefaults()
    {
        var file = Parse("[tables]", "allow = /etc/a ; comment", "# a comment", "[service:ssh]", "listen = 0.0.0.0:22 [::]:22", "forward = 127.0.0.1:2222",
            "[limits]", "decision_timeout = 1w", "[log]", "decisions_max_size = 2M", "[bans]", "protect_loopback = no");
        Assert.Empty(file.Errors);
        Assert.Equal("/etc/a", file.Text("tables", "allow"));
        Assert.Equal("/etc/hosts.deny", file.Text("tables", "deny"));
        Assert.Equal(["ssh"], file.Labels("service"));
        Assert.Equal(2, file.Addresses("service:ssh", "listen").Count);
        Assert.Equal(TimeSpan.FromDays(7), file.Duration("limits", "decision_timeout"));
        Assert.Equal(TimeSpan.FromSeconds(10), file.Duration("limits", "banner_timeout"));
        Assert.Equal(2L << 20, file.Size("log", "decisions_max_size"));
        Assert.False(file.YesNo("bans", "protect_loopback"));
        Assert.Equal(4096, file.Count("limits", "max_connections"));
    }

    [Fact]
    public void Overrides_ErrorsNameTheVariableOrSwitch_NeverALineOfTheFile()
    {
        var usage = new List<string>();
        var overrides = ConfigOverride.FromEnvironment(new System.Collections.Hashtable
        {
            ["GIFTWRAP_limits__max_connections"] = "0",
            ["GIFTWRAP_DAEMON_DIR"] = "/usr/sbin", // tcpd's variable, not a configuration key
        });
        overrides.AddRange(ConfigOverride.FromSwitches(["--limits:decision_timeout=1w", "--lmits:x=1", "--service:ssh:listen", "127.0.0.1:2022", "--bogus"], usage));
        var file = ConfigFile.Parse("g.conf", ["[limits]", "max_connections = 10"], overrides);
        Assert.Equal(["unknown option --bogus (settings are written --section:key=value; see --help)"], usage);
        Assert.Contains("environment variable GIFTWRAP_limits__max_connections: max_connections = 0: must be a whole number from 1 to 1000000", file.Errors);
        Assert.Contains(file.Errors, e => e.StartsWith("switch --lmits:x=1: unknown section [lmits] (did you mean [limits]?)", StringComparison.Ordinal));
        Assert.Equal(2, file.Errors.Count);
        Assert.Equal(TimeSpan.FromDays(7), file.Duration("limits", "decision_timeout"));
        Assert.Equal("127.0.0.1:2022", file.Get("service:ssh", "listen"));
        Assert.Equal("switch --service:ssh:listen 127.0.0.1:2022", file.Where("service:ssh", "listen"));
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("15", 15_000)]
    [InlineData("30s", 30_000)]
    [InlineData("10m", 600_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("1d", 86_400_000)]
    [InlineData("1w", 604_800_000)]
    [InlineData(" 1W ", 604_800_000)]
    public void Duration_OneGrammar_Accepted(string text, long milliseconds)
    {
        Assert.True(Duration.TryParse(text, out var d));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), d);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("0s")]
    [InlineData("-5m")]
    [InlineData("1.5h")]
    [InlineData("10x")]
    [InlineData("h")]
    [InlineData("s")]
    [InlineData("99999999999w")]
    public void Duration_Malformed_Refused(string text) => Assert.False(Duration.TryParse(text, out _));

    [Fact]
    public void Schema_EveryKey_IsInTheManualPage()
    {
        var page = File.ReadAllText(Path.Combine(LibwrapOracle.RepoRoot, "docs", "man", "giftwrap.conf.5.md"));
        foreach (var section in ConfigSchema.Sections)
        {
            Assert.Contains(section.Labelled ? $"## [{section.Name}:NAME]" : $"## [{section.Name}]", page, StringComparison.Ordinal);
            foreach (var key in section.Keys)
                Assert.Contains($"**{key.Name}** =", page, StringComparison.Ordinal);
        }
    }
}
