// One rule's daemon list and client list, three-valued over one address family:
// Yes where the address alone makes the list match, No where it alone makes it fail,
// Maybe where a lookup (client or server name, user, netgroup, /file contents, the
// server port) could go either way. Mirrors host_match()/list_match() in HostPattern
// and PatternList; every Maybe is named in Depends for the held range's reason.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Patterns;

namespace Giftwrap.Analysis;

internal sealed class PatternRanges(AddressFamilySpace family, string daemon, int serverPort, Dictionary<string, (TriMap, bool)> globs)
{
    // Linux gives a link-local client its interface as scope id, and .NET's text then ends in "%N":
    // string_match() and inet_pton() see that text, so no address pattern is trusted there.
    private static readonly UInt128 LinkLocal = (UInt128)0xfe80 << 112;
    private static readonly UInt128 LinkLocalEnd = LinkLocal | ((UInt128.One << 118) - 1);
    private static readonly char[] Ipv6TextChars = "0123456789abcdefABCDEF:.%".ToCharArray();

    /// <summary>What the Maybe parts of the last rule depend on, in the order met.</summary>
    public List<string> Depends { get; } = [];

    private UInt128 Max => family.Max;

    private TriMap All(Tri value) => TriMap.Constant(value, Max);

    private void Depend(string what)
    {
        if (!Depends.Contains(what))
            Depends.Add(what);
    }

    /// <summary>The daemon list for this daemon and port: the client address plays no part in it.</summary>
    public Tri Daemons(PatternList<DaemonPattern> list) =>
        Eval(list.Groups, DaemonToken, static ts => ts.Count == 0 ? Tri.No : ts.Max(), Kleene.And, Kleene.Not);

    public TriMap Clients(PatternList<ClientPattern> list) =>
        Eval(list.Groups, ClientToken, ms => TriMap.Any(ms, Max), (a, b) => TriMap.And(a, b, Max), a => TriMap.Not(a, Max));

    // list_match(): any token of group i, unless the rest (from group i+1) matches.
    private static TValue Eval<TToken, TValue>(TToken[][] groups, Func<TToken, TValue> token, Func<List<TValue>, TValue> any,
        Func<TValue, TValue, TValue> and, Func<TValue, TValue> not) =>
        Group(groups, 0, token, any, and, not);

    private static TValue Group<TToken, TValue>(TToken[][] groups, int i, Func<TToken, TValue> token, Func<List<TValue>, TValue> any,
        Func<TValue, TValue, TValue> and, Func<TValue, TValue> not)
    {
        var matched = any([.. groups[i].Select(token)]);
        return i + 1 >= groups.Length ? matched : and(matched, not(Group(groups, i + 1, token, any, and, not)));
    }

    private Tri DaemonToken(DaemonPattern d)
    {
        Tri name;
        if (d.Port is { } port)
        {
            // Debian's numeric daemon token compares the server port.
            if (serverPort == 0)
                Depend("the server port");
            name = serverPort == 0 ? Tri.Maybe : serverPort == port ? Tri.Yes : Tri.No;
        }
        else
        {
            name = d.Name.IsMatch(AccessRequest.Cut(daemon)) ? Tri.Yes : Tri.No;
        }
        if (name == Tri.No || d.Host is null || d.Host is GeneralPattern { String.Kind: StringPatternKind.All })
            return name;
        Depend("the server address or name (daemon@host)");
        return Tri.Maybe;
    }

    private TriMap ClientToken(ClientPattern c)
    {
        var host = Host(c.Host);
        if (c.User is null || c.User.Kind == StringPatternKind.All || host.IsNone)
            return host;
        Depend("the client user (RFC 1413)");
        return TriMap.And(host, All(Tri.Maybe), Max);
    }

    private TriMap Host(HostPattern p)
    {
        switch (p)
        {
            case NetgroupPattern n:
                Depend($"netgroup @{n.Group} (the client host name)");
                return All(Tri.Maybe);
            case FilePattern f:
                Depend($"the pattern file {f.Path}");
                return All(Tri.Maybe);
            case KnownPattern:
                Depend("the client host name (KNOWN)");
                return All(Tri.Maybe);
            case LocalPattern:
                Depend("the client host name (LOCAL)");
                return All(Tri.Maybe);
            case GeneralPattern { String.Kind: StringPatternKind.All }:
                return All(Tri.Yes);
            case GeneralPattern g:
                var address = LinkLocalDoubt(Text(g.String));
                if (!g.MayBeName)
                    return address;
                Depend("the client host name");
                return TriMap.Or(address, All(Tri.Maybe), Max);
            case MaskPattern m:
                return family.IsV4 ? Mask(m) : TriMap.None;
            case BracketPattern b:
                return Bracket(b);
            default:
                Depend("a pattern this analysis does not know");
                return All(Tri.Maybe);
        }
    }

    /// <summary>string_match() of the token against the address text.</summary>
    private TriMap Text(StringPattern s)
    {
        var token = s.Token;
        if (family.IsV4)
        {
            var glob = s.Kind switch
            {
                StringPatternKind.Prefix => token + "*",
                // A suffix must be shorter than the text; an IPv4 text never starts with '.', so "*" + token says it.
                StringPatternKind.Suffix => "*" + token,
                _ => token,
            };
            if (s.Kind == StringPatternKind.Exact && IPAddress.TryParse(token, out var ip4)
                && ip4.AddressFamily == AddressFamily.InterNetwork && ip4.ToString() == token)
            {
                var v = family.Value(ip4);
                return TriMap.Range(v, v);
            }
            if (!globs.TryGetValue(glob, out var r))
                globs[glob] = r = Ipv4Text.Match(glob);
            if (r.Item2)
                Depend($"\"{token}\" matches addresses too scattered to list");
            return r.Item1;
        }
        if (s.Kind == StringPatternKind.Exact)
        {
            // The text of a connection's address is .NET's canonical form: only that spelling matches.
            // A token with a scope id ("fe80::1%2") names a link-local address: LinkLocalDoubt takes it from there.
            if (IPAddress.TryParse(token, out var ip6) && ip6.AddressFamily == AddressFamily.InterNetworkV6
                && (ip6.ScopeId != 0 || string.Equals(ip6.ToString(), token, StringComparison.OrdinalIgnoreCase)))
            {
                var v = family.Value(ip6);
                return TriMap.Range(v, v);
            }
            return TriMap.None;
        }
        if (token.Trim('*').Length == 0)
            return All(Tri.Yes);
        // An IPv6 text has a ':' within its first five characters and dots only after one: a prefix
        // token without ':' ("10.0.") can never begin it.
        if (token.AsSpan().IndexOfAnyExcept([.. Ipv6TextChars, '*', '?']) >= 0
            || (s.Kind == StringPatternKind.Prefix && !token.Contains(':', StringComparison.Ordinal)))
        {
            return TriMap.None;
        }

        Depend($"\"{token}\" compares the IPv6 address as text");
        return All(Tri.Maybe);
    }

    /// <summary>net/mask: (address AND mask) == net, for IPv4 text only, 255.255.255.255 never (INADDR_NONE).</summary>
    private TriMap Mask(MaskPattern m)
    {
        var net = m.Net;
        var mask = m.NetMask;
        if (m.Problem is not null || (net & ~mask) != 0)
            return TriMap.None;
        var ones = System.Numerics.BitOperations.LeadingZeroCount(~mask);
        var tail = mask == 0 ? 32 : System.Numerics.BitOperations.TrailingZeroCount(mask);
        var free = 32 - tail - System.Numerics.BitOperations.PopCount(mask);
        TriMap map;
        if (free == 0)
        {
            var (lo, hi) = family.Prefix(net, ones);
            map = TriMap.Range(lo, hi);
        }
        else if (free <= 12)
        {
            map = NonContiguous(net, mask, tail);
        }
        else
        {
            Depend($"a non-contiguous netmask with {free} free bits");
            var (lo, hi) = family.Prefix(net, ones);
            map = TriMap.Range(lo, hi, Tri.Maybe);
        }
        var none = TriMap.Range(uint.MaxValue, uint.MaxValue);
        return TriMap.And(map, TriMap.Not(none, Max), Max);
    }

    // Each setting of the mask's zero bits above its lowest one bit is one block of 2^tail addresses.
    private TriMap NonContiguous(uint net, uint mask, int tail)
    {
        var freeMask = ~mask & (tail >= 32 ? 0u : uint.MaxValue << tail);
        var starts = new List<uint>();
        var sub = 0u;
        do
        {
            starts.Add(net | sub);
            sub = (sub - freeMask) & freeMask;
        }
        while (sub != 0);
        starts.Sort();
        var pieces = new List<Piece>(starts.Count);
        var size = (UInt128.One << tail) - 1;
        foreach (var s in starts)
            TriMap.Append(pieces, s, s + size, Tri.Yes);
        return new TriMap([.. pieces]);
    }

    private TriMap Bracket(BracketPattern b)
    {
        if (!b.LooksUpName)
        {
            if (family.IsV4 || !b.IsValid)
                return TriMap.None;
            var (lo, hi) = family.Prefix(b.Net, b.PrefixLength);
            return LinkLocalDoubt(TriMap.Range(lo, hi));
        }
        // "[v6]" alone: the address exactly, else the name.
        Depend("the client host name");
        var address = !family.IsV4 && b.IsValid && b.Token.EndsWith(']') ? TriMap.Range(b.Net, b.Net) : TriMap.None;
        return TriMap.Or(LinkLocalDoubt(address), All(Tri.Maybe), Max);
    }

    private TriMap LinkLocalDoubt(TriMap map)
    {
        // A map that is one value everywhere ("*", or Maybe already) reads no address text.
        if (family.IsV4 || map.Pieces is [var whole] && whole.Lo == 0 && whole.Hi == Max
            || !map.Pieces.Any(p => p.Lo <= LinkLocalEnd && p.Hi >= LinkLocal))
        {
            return map;
        }

        Depend("a link-local client (its address text carries the scope id)");
        var doubt = TriMap.Range(LinkLocal, LinkLocalEnd, Tri.Maybe);
        return TriMap.Overlay(map, doubt, doubt, Max);
    }
}

/// <summary>Kleene's three-valued and, or, not.</summary>
internal static class Kleene
{
    public static Tri And(Tri a, Tri b) => a < b ? a : b;

    public static Tri Not(Tri a) => a switch { Tri.Yes => Tri.No, Tri.No => Tri.Yes, _ => Tri.Maybe };
}
