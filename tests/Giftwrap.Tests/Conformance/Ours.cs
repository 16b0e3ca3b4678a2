// Giftwrap's answer in the oracle's vocabulary: granted, denied or twist, and the
// matched file:line. aclexec commands are the two the generator uses, /bin/true and
// /bin/false, whose exit status is known without running them.
using Giftwrap.Decisions;
using Giftwrap.Options;
using Giftwrap.Tables;

namespace Giftwrap.Tests.Conformance;

public static class Ours
{
    public static (string Verdict, string Match, Decision Decision) Ask(AccessTables tables, string requestLine)
    {
        var request = Parse(requestLine);
        var (verdict, d) = Final(tables.Decide(request));
        return (verdict, d.Match is { } m ? $"{m.File}:{m.Line}" : "-", d);
    }

    public static string Verdict(Decision d) => Final(d).Verdict;

    /// <summary>What a host ends with: twist, or the verdict after aclexec (the last command's status counts).</summary>
    public static (string Verdict, Decision Decision) Final(Decision d)
    {
        // The harness says "twist" for every evaluation that ended the process without a verdict:
        // a twist, or percent_x's exit(0) after "expansion too long".
        if (d.Actions.Any(a => a is TwistAction) || d.Warnings.Any(w => w.Code == "percent_x"))
            return ("twist", d);
        if (d.AclExec is { } command && !command.StartsWith("/bin/true", StringComparison.Ordinal) && d.AclExecFallback is { } fallback)
            return Final(fallback);
        return (d.IsGranted ? "granted" : "denied", d);
    }

    public static AccessRequest Parse(string line)
    {
        var f = line.Split('\t');
        return new AccessRequest
        {
            Daemon = Known(f[0]) ?? AccessRequest.Unknown,
            ClientName = Known(f[1]) ?? AccessRequest.Unknown,
            ClientAddress = Known(f[2]),
            ClientUser = Known(f[3]) ?? AccessRequest.Unknown,
            ServerName = Known(f[4]) ?? AccessRequest.Unknown,
            ServerAddress = Known(f[5]),
            ServerPort = int.Parse(f[6], System.Globalization.CultureInfo.InvariantCulture),
            ClientPort = 40000,
        };
    }

    private static string? Known(string s) => s == "-" ? null : s;
}
