// host_match(): one client_list (or daemon@host) token against a host: netgroups,
// /file lists, KNOWN, LOCAL, [IPv6]/len, net/mask, net/len, and everything else as
// string_match() against the address and, unless the token looks numeric, the name.
// Warnings are raised when a broken pattern is evaluated, as libwrap does.
using Giftwrap.Decisions;

namespace Giftwrap.Patterns;

internal abstract class HostPattern
{
    public abstract bool IsMatch(EvalContext ctx, bool server);

    /// <summary>Set when evaluating the pattern can never match and libwrap warns about it.</summary>
    public virtual string? Problem => null;

    public static HostPattern Compile(string token)
    {
        if (token.StartsWith('@'))
            return new NetgroupPattern(token[1..]);
        if (token.StartsWith('/'))
            return new FilePattern(token);
        if (Ascii.EqualsIgnoreCase(token, "KNOWN"))
            return new KnownPattern();
        if (Ascii.EqualsIgnoreCase(token, "LOCAL"))
            return new LocalPattern();
        var slash = token.IndexOf('/', StringComparison.Ordinal);
        // host_match(): only a token with a '/' is a net/mask ([v6]/len included); "[v6]" alone falls to
        // string_match(), which tries the address and then, the token not being all digits and dots
        // (NOT_INADDR), looks the name up. A wildcard there is a wildcard, not an address.
        if (token.StartsWith('[') && (slash >= 0 || !Wildcard.HasWildcard(token)))
            return BracketPattern.Create(token, slash < 0);
        if (slash >= 0)
            return MaskPattern.Create(token, token[..slash], token[(slash + 1)..]);
        return new GeneralPattern(token);
    }

    /// <summary>HOSTNAME_KNOWN(): neither unknown nor paranoid.</summary>
    protected static bool NameKnown(string name) =>
        !Ascii.EqualsIgnoreCase(name, AccessRequest.Unknown) && !Ascii.EqualsIgnoreCase(name, AccessRequest.Paranoid);
}

internal sealed class NetgroupPattern(string group) : HostPattern
{
    public string Group => group;

    public override bool IsMatch(EvalContext ctx, bool server)
    {
        var host = ctx.HostName(server);
        // innetgr() may ask a remote NIS or LDAP server: not while a lookup of the name is pending (this
        // pass is evaluated again with the name), nor on a thread that must not block.
        if (ctx.Pending != LookupKind.None || !ctx.MayLookUpSystem())
            return false;
        return ctx.Netgroups.IsHostInNetgroup(group, host);
    }
}

internal sealed class KnownPattern : HostPattern
{
    public override bool IsMatch(EvalContext ctx, bool server)
    {
        var name = ctx.HostName(server);
        return ctx.Host(server) != AccessRequest.Unknown && NameKnown(name);
    }
}

internal sealed class LocalPattern : HostPattern
{
    public override bool IsMatch(EvalContext ctx, bool server)
    {
        var name = ctx.HostName(server);
        return !name.Contains('.', StringComparison.Ordinal) && NameKnown(name);
    }
}

/// <summary>Anything else: the address, then (for tokens with more than digits, dots and slashes) the name.</summary>
internal sealed class GeneralPattern : HostPattern
{
    public GeneralPattern(string token)
    {
        String = new StringPattern(token);
        // NOT_INADDR(): a token of only digits, dots and slashes is never compared with a name.
        MayBeName = token.AsSpan().IndexOfAnyExcept("01234567890./") >= 0;
    }

    public StringPattern String { get; }
    public bool MayBeName { get; }

    public override bool IsMatch(EvalContext ctx, bool server) =>
        String.IsMatch(ctx.Host(server)) || (MayBeName && String.IsMatch(ctx.HostName(server)));
}

/// <summary>n.n.n.n/m.m.m.m and n.n.n.n/len: the address AND the mask must equal the net.</summary>
internal sealed class MaskPattern : HostPattern
{
    private readonly uint _net;
    private readonly uint _mask;
    private readonly string? _problem;

    private MaskPattern(uint net, uint mask, string? problem)
    {
        _net = net;
        _mask = mask;
        _problem = problem;
    }

    public uint Net => _net;
    public uint NetMask => _mask;
    public override string? Problem => _problem;

    public static MaskPattern Create(string token, string net, string mask)
    {
        if (!TryParse(net, mask, out var n, out var m))
            return new MaskPattern(0, 0, $"bad net/mask expression: {net}/{mask}");
        return new MaskPattern(n, m, null);
    }

    /// <summary>The net and mask; false for a broken expression, which never matches.</summary>
    internal static bool TryParse(ReadOnlySpan<char> net, ReadOnlySpan<char> mask, out uint n, out uint m)
    {
        m = 0;
        return Ipv4.TryParseDotQuad(net, out n) && TryMask(mask, out m);
    }

    // Debian: a dotted mask first (255.255.255.255 is INADDR_NONE, so invalid); else atoi()
    // of the text as a prefix length, valid from 1 to 32 (so /0 never matches: use 0.0.0.0/0.0.0.0).
    private static bool TryMask(ReadOnlySpan<char> text, out uint mask)
    {
        if (Ipv4.TryParseDotQuad(text, out mask))
            return true;
        var bits = CNumbers.Atoi(text);
        mask = bits is >= 1 and <= 32 ? uint.MaxValue << (32 - bits) : 0;
        return bits is >= 1 and <= 32;
    }

    public override bool IsMatch(EvalContext ctx, bool server)
    {
        // Debian's libwrap says nothing about a broken net/mask at run time: it just never matches.
        return _problem is null && Ipv4.TryParseDotQuad(ctx.Host(server), out var addr) && (addr & _mask) == _net;
    }
}

/// <summary>
/// [v6]/len (masked_match6: the address only) and [v6] (string_match: the address, then the name,
/// which libwrap looks up whenever the address did not match; the lookup shows in later %h and log lines).
/// </summary>
internal sealed class BracketPattern : HostPattern
{
    private readonly UInt128 _net;
    private readonly UInt128 _mask;
    private readonly string? _problem;
    private readonly bool _valid;

    private BracketPattern(UInt128 net, UInt128 mask, bool valid, string? problem)
    {
        _net = net;
        _mask = mask;
        _valid = valid;
        _problem = problem;
    }

    public UInt128 Net => _net;
    public int PrefixLength { get; private init; }
    public bool IsValid => _valid;
    public override string? Problem => _problem;

    /// <summary>The token as written.</summary>
    public string Token { get; private init; } = "";

    /// <summary>No "/len": string_match() compares the name too, so the name is looked up when the address fails.</summary>
    public bool LooksUpName { get; private init; }

    public static BracketPattern Create(string token, bool looksUpName = false)
    {
        var close = token.IndexOf(']', StringComparison.Ordinal);
        if (close < 0)
            return Invalid(token, looksUpName);
        var inner = token.AsSpan(1, close - 1);
        var rest = token.AsSpan(close + 1);
        if (!Ipv6.TryParse(inner, out var net))
            return Invalid(token, looksUpName);
        var bits = 128;
        if (rest.Length > 0)
        {
            // [net]/len: the length is read with atoi(), so "/32x" is 32 and "/" is 0.
            if (rest[0] != '/')
                return Invalid(token, looksUpName);
            bits = CNumbers.Atoi(rest[1..]);
            if (bits is < 0 or > 128)
                return Invalid(token, looksUpName);
        }
        var mask = Ipv6.Mask(bits);
        return new BracketPattern(net & mask, mask, true, null) { PrefixLength = bits, Token = token, LooksUpName = looksUpName };
    }

    private static BracketPattern Invalid(string token, bool looksUpName) =>
        new(0, 0, false, $"bad IPv6 address pattern: {token}") { Token = token, LooksUpName = looksUpName };

    public override bool IsMatch(EvalContext ctx, bool server)
    {
        if (!LooksUpName)
            return _valid && Ipv6.TryParse(ctx.Host(server), out var addr) && (addr & _mask) == _net;
        // string_match(tok, eval_hostaddr) || (NOT_INADDR(tok) && string_match(tok, eval_hostname)).
        return Same(ctx.Host(server)) || Same(ctx.HostName(server));
    }

    // string_match()'s exact branch: "[v6]" compares as an IPv6 address (getaddrinfo AI_NUMERICHOST) after
    // the "::ffff:a.b.c.d" to "a.b.c.d" rewrite; a token not ending in ']' compares as text (STR_EQ).
    private bool Same(string s)
    {
        var text = StringPattern.Unmapped(s);
        if (!Token.EndsWith(']'))
            return Ascii.EqualsIgnoreCase(Token, text);
        return _valid && Ipv6.TryParse(text, out var addr) && addr == _net;
    }
}

/// <summary>/path: the host matches if it matches any pattern listed in the file.</summary>
internal sealed class FilePattern(string path) : HostPattern
{
    /// <summary>Bound on /file nesting; libwrap recurses until its stack runs out.</summary>
    public const int MaxDepth = 8;

    /// <summary>
    /// Bound on the patterns of /file lists one evaluation tries (about a second of work). Lists that name each
    /// other many times over multiply: ten files each naming the next a hundred times are 100^9 steps, which
    /// libwrap walks for ever (re-reading every file each time); past the bound access is refused.
    /// </summary>
    public const long MaxSteps = 10_000_000;

    public string Path => path;

    public override bool IsMatch(EvalContext ctx, bool server) => Evaluate(ctx, server, path);

    /// <summary>The list at <paramref name="path"/> against the host: a rule's /path, or one named inside a list.</summary>
    internal static bool Evaluate(EvalContext ctx, bool server, string path)
    {
        // After an error that refuses access the search is over: going on would only repeat the error (a file
        // that lists itself a hundred times would take 100^8 steps to unwind, each adding it once more).
        if (ctx.Failed)
            return false;
        if (ctx.FileDepth >= MaxDepth)
        {
            // libwrap recurses until it crashes; refusing is the closest safe outcome.
            ctx.Fail("file-loop", $"{path}: pattern files nested more than {MaxDepth} deep (a file that lists itself?); access refused");
            return false;
        }
        var list = ctx.Files.Get(path);
        if (list.Fatal)
        {
            // What libwrap would crash or hang on (see PatternFileCache) stops the search and refuses.
            ctx.Fail(list.Code, list.Error!);
            return false;
        }
        if (list.Error is not null)
            ctx.Warn(list.Code, list.Error);
        ctx.FileDepth++;
        try
        {
            return list.IsMatch(ctx, server, path);
        }
        finally
        {
            ctx.FileDepth--;
        }
    }
}
