// Checks of single patterns: forms that libwrap accepts but that can never match
// (0.0.0.0/0, /33, a net with host bits set, 255.255.255.255, bad IPv6), IPv6
// written without brackets, wildcards mixed with other forms, missing /files.
using System.Text.RegularExpressions;
using Giftwrap.Patterns;
using Giftwrap.Rules;

namespace Giftwrap.Checks;

internal static partial class PatternChecks
{
    public static void Host(HostPattern p, string token, string file, int line, int column, List<Diagnostic> into)
    {
        switch (p)
        {
            case MaskPattern m when m.Problem is not null:
                into.Add(Warn(file, line, column, "never-matches", $"{token} never matches: {MaskAdvice(token)}", MaskFix(token)));
                break;
            case MaskPattern m when (m.Net & ~m.NetMask) != 0:
                into.Add(Warn(file, line, column, "never-matches",
                    $"{token} never matches: the network has bits set outside the mask (libwrap compares address AND mask with it)",
                    $"write {Ipv4Text(m.Net & m.NetMask)}/{token[(token.IndexOf('/', StringComparison.Ordinal) + 1)..]}"));
                break;
            case BracketPattern b when !b.IsValid:
                into.Add(Warn(file, line, column, "never-matches", $"{token} never matches: not an IPv6 address, or a prefix length outside 0-128",
                    "write [2001:db8::]/32"));
                break;
            case GeneralPattern g when g.String.Kind == StringPatternKind.Wildcard && (token.StartsWith('.') || token.EndsWith('.')):
                into.Add(Info(file, line, column, "wildcard", $"{token} is matched as a wildcard only: a leading or trailing '.' has no suffix/prefix meaning next to * or ?"));
                break;
            case GeneralPattern g when g.String.Kind == StringPatternKind.Prefix && token.Count(c => c == '.') > 3 && !g.MayBeName:
                into.Add(Warn(file, line, column, "never-matches", $"{token} never matches an IPv4 address: a prefix has at most three numbers", "drop the last number"));
                break;
            case FilePattern f:
                if (!File.Exists(f.Path))
                    into.Add(Warn(file, line, column, "file-missing", $"{f.Path}: no such pattern file; it matches nothing"));
                break;
            case NetgroupPattern n when n.Group.Length == 0:
                into.Add(Warn(file, line, column, "never-matches", "@ without a netgroup name never matches"));
                break;
        }
    }

    private static string MaskAdvice(string token)
    {
        var mask = token[(token.IndexOf('/', StringComparison.Ordinal) + 1)..];
        if (mask == "0")
            return "Debian's libwrap rejects the prefix length 0";
        if (mask == "255.255.255.255")
            return "255.255.255.255 is not a valid mask in libwrap";
        return "the network must be four numbers and the mask a dotted mask or a length from 1 to 32";
    }

    private static string MaskFix(string token)
    {
        var net = token[..token.IndexOf('/', StringComparison.Ordinal)];
        var mask = token[(net.Length + 1)..];
        return mask switch
        {
            "0" => "write ALL, or 0.0.0.0/0.0.0.0",
            "255.255.255.255" or "32" => $"write the address alone: {net}",
            _ => "write n.n.n.n/m.m.m.m or n.n.n.n/len",
        };
    }

    private static string Ipv4Text(uint a) => $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}";

    /// <summary>An IPv6 address outside brackets in the text after the daemon list: libwrap splits it at its colons.</summary>
    public static void UnbracketedIpv6(string text, int start, string file, int line, List<Diagnostic> into)
    {
        foreach (Match m in Ipv6Like().Matches(text, start))
        {
            var before = m.Index > 0 ? text[m.Index - 1] : ' ';
            if (before == '[' || before == '\\')
                continue;
            var candidate = m.Value.TrimEnd(':');
            if (!Ipv6.TryParse(candidate, out _) && !Ipv6.TryParse(m.Value, out _))
                continue;
            if (before == '/' && MaskAsLength(text, m) is { } fix)
            {
                into.Add(Warn(file, line, m.Index + 1, "ipv6-brackets",
                    $"IPv6 mask {m.Value} written as an address: libwrap takes only a prefix length after [net]/, and splits the rule at the mask's ':' characters",
                    fix));
                continue;
            }
            into.Add(Warn(file, line, m.Index + 1, "ipv6-brackets",
                $"IPv6 address {m.Value} written without brackets: libwrap splits the rule at its ':' characters",
                $"write [{candidate}]"));
        }
    }

    /// <summary>For [net]/mask with an IPv6 mask: the hint to write the mask as its prefix length.</summary>
    private static string? MaskAsLength(string text, Match m)
    {
        var slash = m.Index - 1;
        var start = slash > 0 ? text.LastIndexOf('[', slash - 1) : -1;
        if (start < 0 || text[slash - 1] != ']')
            return null;
        var net = text[start..slash];
        if (!Ipv6.TryParse(m.Value, out var mask) && !Ipv6.TryParse(m.Value.TrimEnd(':'), out mask))
            return null;
        var length = 0;
        while (length < 128 && ((mask >> (127 - length)) & 1) == 1)
            length++;
        return Ipv6.Mask(length) == mask ? $"write {net}/{length}" : "write [net]/len with a prefix length from 0 to 128";
    }

    [GeneratedRegex(@"(?<![0-9A-Za-z.:\[])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*")]
    private static partial Regex Ipv6Like();

    public static Diagnostic Warn(string file, int line, int column, string code, string message, string? fix = null) =>
        new(file, line, column, DiagnosticSeverity.Warning, code, message, fix);

    public static Diagnostic Error(string file, int line, int column, string code, string message, string? fix = null) =>
        new(file, line, column, DiagnosticSeverity.Error, code, message, fix);

    public static Diagnostic Info(string file, int line, int column, string code, string message, string? fix = null) =>
        new(file, line, column, DiagnosticSeverity.Info, code, message, fix);
}
