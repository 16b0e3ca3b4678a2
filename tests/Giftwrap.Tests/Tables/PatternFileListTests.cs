// A word in a /file list decides as the same word written in the rule: the compact list
// (PatternFileList) against HostPattern, word by word, for verdict, the lookup asked for and
// when, and the facts consulted. The conformance tests compare both with libwrap.
using Giftwrap.Decisions;
using Giftwrap.Patterns;
using Giftwrap.Tables;

namespace Giftwrap.Tests.Tables;

public sealed class PatternFileListTests
{
    private static readonly string[] Words =
    [
        "10.0.0.1", "010.0.0.1", "10.0.0.01", "10.0.0.1.", "10.", "10.0.0.0/8", "10.0.0.0/255.0.0.0", "10.0.0.0/33", "10.0.0/8",
        "1.2.3.4/255.255.255.255", "255.255.255.255", "0.0.0.0", "0.0.0.0/0.0.0.0", ".1", "1", "127.0.0.1",
        "[::1]", "[::1]/128", "[2001:db8::]/32", "[2001:db8::]/129", "[::ffff:10.0.0.1]", "[::ffff:10.0.0.0]/104", "[bogus]", "[::1",
        "[::1]/x", "[*]", "::1", "2001:db8::5", "::ffff:10.0.0.1",
        "ALL", "all", "KNOWN", "LOCAL", "local", "UNKNOWN", "PARANOID", "@nosuchgroup", "@",
        ".example.com", ".EXAMPLE.COM", "a.example.com", "A.Example.Com", "host.", "a.example.com.", "localhost",
        "*", "**", "*.example.com", "?.example.com", "10.0.*", "1?.0.0.1", "*1", "a*b*c", "*a*", "a?c*",
        "h\u00c3\u00b4te.example.com", "h?\u00b4te.*",
    ];

    private static readonly (string Address, string? Name)[] Clients =
    [
        ("10.0.0.1", "unknown"), ("10.0.0.1", null), ("10.0.0.1", "a.example.com"), ("010.0.0.1", null),
        ("::ffff:10.0.0.1", null), ("::1", "localhost"), ("2001:db8::5", null), ("127.0.0.1", "localhost"),
        ("192.0.2.1", "A.EXAMPLE.COM"), ("192.0.2.1", "h\u00c3\u00b4te.example.com"), ("192.0.2.1", "abc"), ("1.2.3.4", "paranoid"),
        ("unknown", "unknown"), ("", null),
    ];

    [Fact]
    public void IsMatch_EveryWordAndClient_AsTheWordInTheRule()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-list-");
        try
        {
            foreach (var word in Words)
            {
                var path = Path.Combine(dir.FullName, "list");
                // Two words: the second shows that the walk after the first lines up too.
                File.WriteAllBytes(path, System.Text.Encoding.Latin1.GetBytes($"{word}\n{word}\n"));
                var files = PatternFileCache.Build([path], null, null, p => [p]);
                var pattern = HostPattern.Compile(word);
                foreach (var (address, name) in Clients)
                {
                    var request = new AccessRequest { Daemon = "sshd", ClientAddress = address, ClientName = name, CanLookUp = true };
                    var ours = new EvalContext(request, files, SystemNetgroups.Instance, SystemAccounts.Instance);
                    var theirs = new EvalContext(request, PatternFileCache.Empty, SystemNetgroups.Instance, SystemAccounts.Instance);
                    var expected = pattern.IsMatch(theirs, false) || pattern.IsMatch(theirs, false);
                    var actual = FilePattern.Evaluate(ours, false, path);
                    var what = $"{word} against {address} ({name ?? "name not looked up"})";
                    Assert.True(expected == actual, $"{what}: rule {expected}, list {actual}");
                    Assert.True(theirs.Pending == ours.Pending && theirs.PendingStep == ours.PendingStep, $"{what}: lookups differ");
                    Assert.True(theirs.Used == ours.Used && theirs.Failed == ours.Failed, $"{what}: facts differ");
                    Assert.Equal(actual ? 1 : 2, ours.FileSteps);
                }
            }
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
