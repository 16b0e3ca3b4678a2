// The `ban DURATION` option, Giftwrap's booby trap: the decision carries the ban for
// the host to apply; `check` says that libwrap would reject the rule.
using Giftwrap.Checks;
using Giftwrap.Options;

namespace Giftwrap.Tests.Decisions;

public sealed class BanOptionTests
{
    [Theory]
    [InlineData("30s", 30)]
    [InlineData("10m", 600)]
    [InlineData("2h", 7200)]
    [InlineData("1d", 86400)]
    [InlineData("1w", 604800)]
    public void Decide_BanOption_CarriesTheDuration(string text, int seconds)
    {
        using var files = new TableFiles(deny: $"telnetd: ALL: ban {text}\n");
        using var tables = files.Open();
        var d = tables.Decide(TableFiles.Request("telnetd", "203.0.113.9"));
        Assert.False(d.IsGranted);
        var ban = Assert.IsType<BanAction>(Assert.Single(d.Actions));
        Assert.Equal(TimeSpan.FromSeconds(seconds), ban.Duration);
    }

    [Theory]
    [InlineData("ban")]
    [InlineData("ban forever")]
    [InlineData("ban 0s")]
    [InlineData("ban 10x")]
    public void Decide_BadBanOption_RefusesLikeAnyBrokenOption(string option)
    {
        using var files = new TableFiles(allow: $"telnetd: ALL: {option}\n");
        using var tables = files.Open();
        var d = tables.Decide(TableFiles.Request("telnetd", "203.0.113.9"));
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Severity == Giftwrap.Rules.DiagnosticSeverity.Error);
    }

    [Fact]
    public void Check_BanOption_IsMarkedAsAnExtension()
    {
        using var files = new TableFiles(deny: "telnetd: ALL: ban 1d\n");
        var report = TableChecker.Check(files.Allow, files.Deny);
        Assert.Contains(report.Diagnostics, x => x.Code == "extension" && x.Line == 1 && x.Message.Contains("libwrap rejects", StringComparison.Ordinal));
    }
}
