// percent_x's buffer (BUFSIZ, 8,192 bytes): an option value whose expansion reaches 8,191 bytes makes
// libwrap log "percent_x: expansion too long" and exit, so the daemon never runs. Asked of the real
// libwrap (the harness reports such an exit as "twist") and of Giftwrap, at and around the limit.
namespace Giftwrap.Tests.Conformance;

public sealed class ExpansionLimitTests
{
    private static readonly string LongName = new('a', 127);

    /// <summary>An option value "KEY %n%n...x" that expands to exactly <paramref name="length"/> bytes for a 127-char name.</summary>
    private static string Value(string key, int length)
    {
        var body = length - key.Length;
        return key + string.Concat(Enumerable.Repeat("%n", body / 127)) + new string('x', body % 127);
    }

    [Theory]
    [InlineData("setenv", "X ", 8190, "granted")]
    [InlineData("setenv", "X ", 8191, "twist")]
    [InlineData("spawn", "echo ", 8191, "twist")]
    [InlineData("twist", "echo ", 8191, "twist")]
    [InlineData("aclexec", "/bin/true ", 9000, "twist")]
    public void LongExpansion_AgreesWithLibwrap(string option, string key, int length, string expected)
    {
        using var files = new TableFiles(allow: $"sshd: ALL: spawn /bin/true %a : {option} {Value(key, length)}\n");
        var request = $"sshd\t{LongName}\t10.0.0.1\t-\t-\t-\t0";
        var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, [request])[0];
        using var tables = files.Open();
        var (verdict, match, decision) = Ours.Ask(tables, request);
        Assert.Equal(expected, theirs.Verdict);
        Assert.Equal(theirs.Verdict, verdict);
        Assert.Equal(theirs.Match, match);
        var ours = decision.Warnings.Count == 0 ? "-" : string.Join(" | ", decision.Warnings.Select(w => w.ToLogLine()));
        Assert.Equal(theirs.Warnings, ours);
    }

    [Fact]
    public void LongExpansion_RefusesAfterTheOptionsBeforeIt()
    {
        using var files = new TableFiles(allow: $"sshd: ALL: spawn /bin/true %a : setenv {Value("X ", 8191)} : spawn /bin/false\n");
        using var tables = files.Open();
        var decision = tables.Decide(TableFiles.Request("sshd", "10.0.0.1", LongName));
        // Not granted, so no host runs the daemon; the spawn before the long value was already carried out.
        Assert.False(decision.IsGranted);
        Assert.Equal(1, decision.Match!.Line);
        Assert.Equal("/bin/true 10.0.0.1", Assert.IsType<Giftwrap.Options.SpawnAction>(Assert.Single(decision.Actions)).Command);
        var warning = Assert.Single(decision.Warnings);
        Assert.Equal($"warning: {files.Allow}, line 1: percent_x: expansion too long: X {LongName[..28]}...", warning.ToLogLine());
    }
}
