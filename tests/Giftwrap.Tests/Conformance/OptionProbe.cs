// One hosts.allow rule per option (daemon dN, client ALL) and one request per rule, asked of the
// real libwrap and of Giftwrap: the option conformance tests compare the two answers their own way.
// Warnings name the table as "allow", so that the temporary file's path does not enter a comparison.
using System.Text;

namespace Giftwrap.Tests.Conformance;

/// <summary>libwrap's and Giftwrap's answers for one option's rule.</summary>
internal sealed record OptionAnswers(OracleAnswer Libwrap, string Verdict, string Match, string Warnings);

internal static class OptionProbe
{
    public static List<OptionAnswers> Ask(IReadOnlyList<string> options)
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
        var answers = new List<OptionAnswers>();
        for (var i = 0; i < options.Count; i++)
        {
            var (verdict, match, decision) = Ours.Ask(tables, requests[i]);
            var warnings = decision.Warnings.Count == 0 ? "-" : string.Join(" | ", decision.Warnings.Select(w => w.ToLogLine()));
            answers.Add(new OptionAnswers(
                theirs[i] with { Warnings = theirs[i].Warnings.Replace(files.Allow, "allow", StringComparison.Ordinal) },
                verdict, match, warnings.Replace(files.Allow, "allow", StringComparison.Ordinal)));
        }
        return answers;
    }
}
