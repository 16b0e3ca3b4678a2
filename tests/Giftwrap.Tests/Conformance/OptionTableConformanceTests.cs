// The option table's columns asked of the real libwrap: each keyword's argument rule and "must be
// last" give libwrap's own errors (none of these rules gets as far as a handler, so nothing runs),
// and exactly the rows marked Extension are the keywords libwrap rejects as bad option names.
using System.Text;
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
        var table = new StringBuilder();
        var requests = new List<string>();
        for (var i = 0; i < options.Count; i++)
        {
            table.Append($"d{i}: ALL: {options[i]}\n");
            requests.Add($"d{i}\t-\t10.0.0.1\t-\t-\t-\t0");
        }
        using var files = new TableFiles(allow: table.ToString());
        using var tables = files.Open();
        var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, requests);
        var libwrap = new List<string>();
        var giftwrap = new List<string>();
        for (var i = 0; i < options.Count; i++)
        {
            var (verdict, match, decision) = Ours.Ask(tables, requests[i]);
            var warnings = decision.Warnings.Count == 0 ? "-" : string.Join(" | ", decision.Warnings.Select(w => w.ToLogLine()));
            giftwrap.Add($"{verdict} {match} [{warnings.Replace(files.Allow, "allow", StringComparison.Ordinal)}]");
            libwrap.Add($"{theirs[i].Verdict} {theirs[i].Match} [{theirs[i].Warnings.Replace(files.Allow, "allow", StringComparison.Ordinal)}]");
        }
        return (libwrap, giftwrap);
    }
}
