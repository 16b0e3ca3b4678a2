// Rules that can never match because an earlier rule already matches everything
// they match. The test is conservative (it proves coverage for the common forms:
// ALL, daemon names, addresses inside a net/mask or prefix, names inside a
// .domain, identical tokens) so every report is true; some shadowing is not found.
using Giftwrap.Patterns;
using Giftwrap.Rules;

namespace Giftwrap.Checks;

internal static class Shadowing
{
    /// <summary>True when <paramref name="earlier"/> matches every request <paramref name="later"/> matches.</summary>
    public static bool Covers(TableEntry earlier, TableEntry later) =>
        earlier.Kind == EntryKind.Rule && later.Kind == EntryKind.Rule
        && DaemonsCover(earlier.Daemons!, later.Daemons!) && ClientsCover(earlier.Clients!, later.Clients!);

    /// <summary>An earlier rule worth comparing with every later one (not a single exact address).</summary>
    public static bool IsBroad(TableEntry e) =>
        e.Kind == EntryKind.Rule && e.Daemons!.Groups.Length == 1 && e.Clients!.Groups.Length == 1
        && e.Clients.Groups[0].Any(c => c.User is null && c.Host is not GeneralPattern { String.Kind: StringPatternKind.Exact });

    /// <summary>A canonical key for identical single-group rules: duplicates shadow each other.</summary>
    public static string? Key(TableEntry e)
    {
        if (e.Kind != EntryKind.Rule || e.Daemons!.Groups.Length != 1 || e.Clients!.Groups.Length != 1)
            return null;
        var d = string.Join(',', e.Daemons.Groups[0].Select(p => Ascii.ToLower(p.Token)).Order(StringComparer.Ordinal));
        var c = string.Join(',', e.Clients.Groups[0].Select(p => Ascii.ToLower(p.Token)).Order(StringComparer.Ordinal));
        return d + ":" + c;
    }

    private static bool DaemonsCover(PatternList<DaemonPattern> e, PatternList<DaemonPattern> l)
    {
        if (e.Groups.Length != 1)
            return false;
        if (e.Groups[0].Any(p => p.Host is null && p.Port is null && p.Name.Kind == StringPatternKind.All))
            return true;
        return l.Groups[0].Length > 0 && l.Groups[0].All(t => e.Groups[0].Any(u =>
            u.Host is null && t.Host is null && u.Port == t.Port && Ascii.EqualsIgnoreCase(u.Token, t.Token)));
    }

    private static bool ClientsCover(PatternList<ClientPattern> e, PatternList<ClientPattern> l)
    {
        if (e.Groups.Length != 1)
            return false;
        if (e.Groups[0].Any(p => p.User is null && p.Host is GeneralPattern { String.Kind: StringPatternKind.All }))
            return true;
        return l.Groups[0].Length > 0 && l.Groups[0].All(t => e.Groups[0].Any(u => u.User is null && HostCovers(u, t)));
    }

    private static bool HostCovers(ClientPattern u, ClientPattern t)
    {
        if (t.User is null && Ascii.EqualsIgnoreCase(u.Token, t.Token))
            return true;
        switch (u.Host, t.Host)
        {
            case (MaskPattern m, GeneralPattern { MayBeName: false, String.Kind: StringPatternKind.Exact } a)
                when m.Problem is null && Ipv4.TryParseDotQuad(a.String.Token, out var addr):
                return (addr & m.NetMask) == m.Net;
            case (MaskPattern m, MaskPattern n) when m.Problem is null && n.Problem is null:
                return (n.NetMask & m.NetMask) == m.NetMask && (n.Net & m.NetMask) == m.Net;
            case (GeneralPattern { MayBeName: false, String.Kind: StringPatternKind.Prefix } p, GeneralPattern { MayBeName: false } a)
                when a.String.Kind is StringPatternKind.Exact or StringPatternKind.Prefix:
                return a.String.Token.StartsWith(p.String.Token, StringComparison.Ordinal);
            case (GeneralPattern { String.Kind: StringPatternKind.Suffix } s, GeneralPattern { MayBeName: true } n)
                when n.String.Kind is StringPatternKind.Exact or StringPatternKind.Suffix && !Ipv4.TryParseDotQuad(n.String.Token, out _):
                return n.String.Token.Length > s.String.Token.Length && n.String.Token.EndsWith(s.String.Token, StringComparison.OrdinalIgnoreCase);
            case (BracketPattern b, BracketPattern c) when b.IsValid && c.IsValid:
                return c.PrefixLength >= b.PrefixLength && (c.Net & Ipv6.Mask(b.PrefixLength)) == b.Net;
            default:
                return false;
        }
    }
}
