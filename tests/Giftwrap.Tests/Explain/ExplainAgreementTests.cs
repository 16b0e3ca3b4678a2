// explain and match tell the same story: on the conformance suite's random tables,
// the rule explain shows as the first reached match is the rule the decision names.
using System.Text;
using Giftwrap.Explain;
using Giftwrap.Tests.Conformance;

namespace Giftwrap.Tests.Explain;

public sealed class ExplainAgreementTests
{
    [Fact]
    public void Explain_RandomTables_AgreesWithTheDecision()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-explain-").FullName;
        try
        {
            var compared = 0;
            for (var t = 0; t < 400; t++)
            {
                var gen = new TableGenerator(9000 + t, dir);
                var allow = Path.Combine(dir, "hosts.allow");
                var deny = Path.Combine(dir, "hosts.deny");
                File.WriteAllText(allow, gen.Table(), Encoding.Latin1);
                File.WriteAllText(deny, gen.Table(), Encoding.Latin1);
                using var tables = new Giftwrap.Tables.AccessTables(allow, deny, new Giftwrap.Tables.AccessTablesOptions { Live = false });
                for (var i = 0; i < 20; i++)
                {
                    var request = Ours.Parse(gen.Request());
                    var x = Explainer.Explain(tables, request);
                    if (x.Decision.Warnings.Any(w => w.Code is "file-loop" or "file-token"))
                        continue;
                    var first = x.Rules.FirstOrDefault(r => r.Reached && r.Outcome == RuleOutcome.Matched);
                    var expected = x.Decision.Match;
                    Assert.True(first?.File == expected?.File && first?.Line == expected?.Line,
                        $"table seed {9000 + t}: explain says {first?.File}:{first?.Line}, the decision {expected}");
                    compared++;
                }
            }
            Assert.True(compared > 5000);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
