// Host name verification side by side with the real libwrap: the same /etc/hosts plays the resolver
// for both (a private mount namespace each), the same tables are asked, and the verdict, the matched
// line, libwrap's warnings and the name %n shows must agree. The cases are the classes of issue 10:
// name/name mismatches, names read as addresses, trailing dots, names over 127 bytes, non-ASCII bytes.
using System.Net;
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Options;
using Giftwrap.Tables;

namespace Giftwrap.Net.Tests;

public sealed class HostNameLibwrapTests
{
    private static readonly string LongName = new string('l', 130) + ".example";

    // One line per case; UTF-8 bytes for the non-ASCII name, as an administrator's editor writes them.
    private static readonly string[] HostsLines =
    [
        "127.0.0.10 good.example",
        "127.0.0.12 dot.example.",
        "127.0.0.13 Mixed.Example",
        $"127.0.0.15 {LongName}",
        "127.0.0.16 h\u00c3\u00b4te.example",
        "127.0.0.17 10.1.2.3",
        "127.0.0.18 localhost",
        "127.0.0.30 c30.example a24.example",
        "127.0.0.24 a24.example",
        "127.0.0.41 lh41.example localhost4",
        "127.0.0.40 localhost4",
        "127.0.0.50 0x7f.1",
        "127.0.0.51 ::1",
        "127.0.0.60 UPPER.example",
        "127.0.0.61 upper.example",
        "127.0.0.70 1.2.3.4.",
        "127.0.0.71 127.1",
        "127.0.0.72 010.0.0.1",
        "127.0.0.73 1.2.3.4x",
        "2001:db8::10 six.example",
        "2001:db8::11 127.0.0.1",
        "2001:db8::12 2001:db8::12",
        "2001:db8::13 four.example",
        "127.0.0.13 four.example",
    ];

    private static readonly string[] Addresses =
    [
        "127.0.0.10", "127.0.0.12", "127.0.0.13", "127.0.0.15", "127.0.0.16", "127.0.0.17", "127.0.0.18",
        "127.0.0.24", "127.0.0.40", "127.0.0.50", "127.0.0.51", "127.0.0.60", "127.0.0.61", "127.0.0.99",
        "127.0.0.70", "127.0.0.71", "127.0.0.72", "127.0.0.73",
        "2001:db8::10", "2001:db8::11", "2001:db8::12", "2001:db8::13", "2001:db8::99", "::ffff:127.0.0.10",
    ];

    // Each rule shows which class the name fell in; the first needs the name, so every lookup's
    // warning is logged in the context of line 1.
    private const string Allow =
        "sshd: h\u00c3\u00b4te.example : setenv N bytes-%n\n" +
        "sshd: LOCAL : setenv N local-%n\n" +
        "sshd: PARANOID : setenv N paranoid-%n\n" +
        "sshd: .example. : setenv N dotted-%n\n" +
        "sshd: KNOWN : setenv N known-%n\n";

    [Fact]
    public async Task SystemResolver_EveryNameClass_AgreesWithLibwrap()
    {
        using var resolver = new ResolverNamespace(Encoding.Latin1.GetBytes(string.Join('\n', HostsLines) + "\n"));
        var allow = Path.Combine(resolver.Directory, "hosts.allow");
        var deny = Path.Combine(resolver.Directory, "hosts.deny");
        File.WriteAllText(allow, Allow, Encoding.Latin1);
        File.WriteAllText(deny, "", Encoding.Latin1);
        var theirs = resolver.Libwrap(allow, deny, Addresses.Select(a => $"sshd\t?\t{a}\t-\t-\t-\t0"));

        var lookups = new RequestLookups(new HostNameVerifier(resolver, new HostNameVerifierOptions { CacheSize = 0 }), new IdentClient());
        using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
        var disagreements = new List<string>();
        for (var i = 0; i < Addresses.Length; i++)
        {
            var request = AccessRequest.ForConnection("sshd", new IPEndPoint(IPAddress.Parse(Addresses[i]), 40000), null);
            var judgement = await tables.DecideAsync(request, lookups);
            var ours = Describe(judgement.Decision);
            var libwrap = Normalize(theirs[i]);
            if (ours != libwrap)
            {
                disagreements.Add($"{Addresses[i]}:\n  libwrap  {libwrap}\n  giftwrap {ours}");
            }
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
        // The classes the issue names, as libwrap decided them here.
        Assert.Contains("host name/name mismatch: a24.example != c30.example", theirs[7], StringComparison.Ordinal);
        Assert.Contains("setenv N dotted-dot.example.", theirs[1], StringComparison.Ordinal);
        Assert.Contains("can't verify hostname: getaddrinfo(" + LongName[..127] + ", AF_INET) failed", theirs[3], StringComparison.Ordinal);
        Assert.StartsWith("granted\t" + allow + ":1\t", theirs[4], StringComparison.Ordinal);
    }

    // Pattern forms, each tried on a client whose name is good.example: libwrap looks the name up for
    // some (string_match on the name) and not for others (address-only forms); %h then shows the name
    // or the address. "[::1]" without /len is one that looks it up.
    private static readonly string[] PatternForms =
    [
        "[::1]", "[::1]/128", "[2001:db8::]/32", "[bogus]", "[::1", "::1", "10.", "127.0.0.", "10.0.0.0/8", "10.0.0.0/255.0.0.0",
        "1?.0.0.1", "127.0.0.*", "*.nowhere", ".5", "0.1", "127.0.0.11", "nowhere.example", ".nowhere", "127.0.0.10", "[127.0.0.10]",
    ];

    [Fact]
    public async Task PatternForms_LookUpTheNameWhereLibwrapDoes()
    {
        using var resolver = new ResolverNamespace(Encoding.Latin1.GetBytes("127.0.0.10 good.example\n"));
        var allow = Path.Combine(resolver.Directory, "hosts.allow");
        var deny = Path.Combine(resolver.Directory, "hosts.deny");
        var table = new StringBuilder();
        for (var i = 0; i < PatternForms.Length; i++)
        {
            table.Append($"d{i}: {PatternForms[i]} : setenv N first-%h\nd{i}: ALL : setenv N second-%h\n");
        }
        File.WriteAllText(allow, table.ToString(), Encoding.Latin1);
        File.WriteAllText(deny, "", Encoding.Latin1);
        var theirs = resolver.Libwrap(allow, deny, PatternForms.Select((_, i) => $"d{i}\t?\t127.0.0.10\t-\t-\t-\t0"));

        var lookups = new RequestLookups(new HostNameVerifier(resolver, new HostNameVerifierOptions { CacheSize = 0 }), new IdentClient());
        using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
        var disagreements = new List<string>();
        for (var i = 0; i < PatternForms.Length; i++)
        {
            var request = AccessRequest.ForConnection($"d{i}", new IPEndPoint(IPAddress.Parse("127.0.0.10"), 40000), null);
            var ours = Describe((await tables.DecideAsync(request, lookups)).Decision);
            var libwrap = Normalize(theirs[i]);
            if (ours != libwrap)
            {
                disagreements.Add($"{PatternForms[i]}:\n  libwrap  {libwrap}\n  giftwrap {ours}");
            }
        }
        Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
        Assert.EndsWith("option:   setenv N second-good.example", theirs[0], StringComparison.Ordinal);
        Assert.EndsWith("option:   setenv N second-127.0.0.10", theirs[1], StringComparison.Ordinal);
    }

    /// <summary>libwrap's line in our words: verdict, match, the warnings without "option:" lines, and the setenv value.</summary>
    private static string Normalize(string line)
    {
        var f = line.Split('\t');
        var messages = f[2] == "-" ? [] : f[2].Split(" | ");
        var warnings = string.Join(" | ", messages.Where(m => !m.StartsWith("option:", StringComparison.Ordinal)));
        var value = messages.FirstOrDefault(m => m.StartsWith("option:   setenv N ", StringComparison.Ordinal))?["option:   setenv N ".Length..] ?? "-";
        return $"{f[0]} {f[1]} [{warnings}] {value}";
    }

    private static string Describe(Decision d)
    {
        var warnings = string.Join(" | ", d.Warnings.Select(w => w.ToLogLine()));
        var value = d.Actions.OfType<SetEnvAction>().FirstOrDefault()?.VariableValue ?? "-";
        var match = d.Match is { } m ? $"{m.File}:{m.Line}" : "-";
        return $"{(d.IsGranted ? "granted" : "denied")} {match} [{warnings}] {value}";
    }
}
