// The option table's columns asked of the real libwrap: each keyword's argument rule and "must be
// last" give libwrap's own errors (none of these rules gets as far as a handler, so nothing runs),
// and exactly the rows marked Extension are the keywords libwrap rejects as bad option names.
using Giftwrap.Options;

namespace Giftwrap.Tests.Conformance;

public sealed class OptionTableConformanceTests
{
    [Fact]
    public void ArgumentRulesAndMustBeLast_AgreeWithLibwrap()
    {
        var options = new List<string>();
        foreach (var row in OptionTable.All.Where(o => !o.Extension))
        {
            if (row.Argument == OptionArgument.Required)
                options.Add(row.Keyword);
            if (row.Argument == OptionArgument.None)
                options.Add($"{row.Keyword} x");
            if (row.MustBeLast)
                options.Add($"{row.Keyword}{(row.NeedsValue ? " x" : "")} : keepalive");
        }
        var (answers, ours) = Ask(options);
        var disagreements = new List<string>();
        for (var i = 0; i < options.Count; i++)
        {
            if (answers[i] != ours[i])
                disagreements.Add($"{options[i]}: libwrap {answers[i]}, giftwrap {ours[i]}");
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
        Assert.All(answers, a => Assert.StartsWith("denied", a, StringComparison.Ordinal));
    }

    [Fact]
    public void ExtensionRows_AreExactlyTheKeywordsLibwrapRejects()
    {
        var keywords = OptionTable.All.Select(o => o.Keyword).ToList();
        var (answers, _) = Ask([.. keywords.Select(k => $"{k} : allow")]);
        for (var i = 0; i < keywords.Count; i++)
        {
            var rejected = answers[i].Contains($"bad option name: \"{keywords[i]}\"", StringComparison.Ordinal);
            Assert.True(OptionTable.All[i].Extension == rejected, $"{keywords[i]}: libwrap says {answers[i]}");
        }
    }

    /// <summary>One hosts.allow rule per option (daemon dN); libwrap's and Giftwrap's verdict and warnings per rule.</summary>
    private static (List<string> Libwrap, List<string> Giftwrap) Ask(IReadOnlyList<string> options)
    {
        var answers = OptionProbe.Ask(options);
        return ([.. answers.Select(a => $"{a.Libwrap.Verdict} {a.Libwrap.Match} [{a.Libwrap.Warnings}]")],
                [.. answers.Select(a => $"{a.Verdict} {a.Match} [{a.Warnings}]")]);
    }
}
