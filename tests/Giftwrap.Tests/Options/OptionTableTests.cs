// The option table is the one place an option is described: each row has the handler its phase
// needs, giftwrap(8)'s RULE OPTIONS section is rendered from the rows (GIFTWRAP_WRITE_DOCS=1
// rewrites it), and the README's list of hosts_options(5) keywords names exactly libwrap's rows.
using System.Text;
using System.Text.RegularExpressions;
using Giftwrap.Options;
using Giftwrap.Tests.Conformance;

namespace Giftwrap.Tests.Options;

public sealed partial class OptionTableTests
{
    private const string Heading = "# RULE OPTIONS";

    public static TheoryData<string> Keywords() => [.. OptionTable.All.Select(o => o.Keyword)];

    [Theory]
    [MemberData(nameof(Keywords))]
    public void Row_HasTheHandlerOfItsPhase(string keyword)
    {
        var row = OptionTable.Find(keyword)!;
        Assert.Equal(row.Phase == OptionPhase.Parse, row.Parse is not null);
        Assert.Equal(row.Phase == OptionPhase.Decide, row.Decide is not null);
        Assert.True(row.Settles is null || row.MustBeLast, "only a last option settles a verdict");
        Assert.Equal(row.Argument == OptionArgument.None, row.Syntax.Length == 0);
        Assert.Equal(row.Argument == OptionArgument.Optional, row.Syntax.StartsWith('[') && row.Syntax.EndsWith(']'));
    }

    [Fact]
    public void Keywords_AreUnique_AndFoundWithoutRegardToCase()
    {
        Assert.Equal(OptionTable.All.Length, OptionTable.All.Select(o => o.Keyword).Distinct(StringComparer.OrdinalIgnoreCase).Count());
        foreach (var row in OptionTable.All)
            Assert.Same(row, OptionTable.Find(row.Keyword.ToUpperInvariant()));
    }

    [Fact]
    public void ManPage_RuleOptions_IsRenderedFromTheTable()
    {
        var path = Path.Combine(LibwrapOracle.RepoRoot, "docs", "man", "giftwrap.8.md");
        var page = File.ReadAllText(path);
        var (start, end) = Section(page);
        var section = page[start..end];
        var rows = Render();
        if (!section.Contains(rows, StringComparison.Ordinal) && Environment.GetEnvironmentVariable("GIFTWRAP_WRITE_DOCS") == "1")
        {
            // The intro paragraph is prose kept by hand; everything from the first option on is the table's.
            var first = section.IndexOf("\n**", StringComparison.Ordinal) + 1;
            File.WriteAllText(path, page[..(start + first)] + rows + page[end..]);
            return;
        }
        Assert.True(section.Contains(rows, StringComparison.Ordinal),
            $"giftwrap(8) {Heading} differs from OptionTable; run this test with GIFTWRAP_WRITE_DOCS=1 to rewrite it. Expected:\n{rows}");
        var documented = TermLine().Matches(section).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(OptionTable.All.Select(o => o.Keyword), documented);
    }

    [Fact]
    public void Readme_ListsLibwrapsOptions_AndMarksTheExtensions()
    {
        var readme = File.ReadAllText(Path.Combine(LibwrapOracle.RepoRoot, "README.md"));
        var list = HostsOptionsList().Match(readme);
        Assert.True(list.Success, "README: the sentence \"every option of hosts_options(5) (...)\" is gone");
        var named = list.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var libwrap = OptionTable.All.Where(o => !o.Extension).Select(o => o.Keyword);
        Assert.Equal(libwrap.Order(StringComparer.Ordinal), named.Order(StringComparer.Ordinal));
        foreach (var row in OptionTable.All.Where(o => o.Extension))
            Assert.Matches($@"`{Regex.Escape(row.Keyword)}[ `][^`]*`? \(a Giftwrap extension", readme);
    }

    /// <summary>The RULE OPTIONS rows in giftwrap(8)'s Markdown dialect (docs/man/md2man.awk).</summary>
    private static string Render()
    {
        var text = new StringBuilder();
        foreach (var row in OptionTable.All)
        {
            text.Append("**").Append(row.Keyword).Append("**");
            if (row.Syntax.Length > 0)
                text.Append(' ').Append(row.Syntax);
            if (row.Extension)
                text.Append(" (Giftwrap extension)");
            text.Append("\n:   ").Append(row.Description);
            if (row.MustBeLast)
                text.Append(" Must be the last option.");
            text.Append("\n\n");
        }
        return text.ToString();
    }

    private static (int Start, int End) Section(string page)
    {
        var start = page.IndexOf("\n" + Heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"giftwrap(8) has no {Heading} section");
        start++;
        var end = page.IndexOf("\n# ", start + Heading.Length, StringComparison.Ordinal);
        return (start, end < 0 ? page.Length : end + 1);
    }

    [GeneratedRegex(@"(?m)^\*\*([a-z0-9]+)\*\*.*\n:   ")]
    private static partial Regex TermLine();

    [GeneratedRegex(@"every option of hosts_options\(5\) \(([a-z0-9,\s]+)\)")]
    private static partial Regex HostsOptionsList();
}
