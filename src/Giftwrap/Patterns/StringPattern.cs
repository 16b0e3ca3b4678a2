// string_match(): one token against one string (a daemon name, a user, a host name
// or address). Compiled once: the kind of token is settled when the table is read.
using Giftwrap.Decisions;

namespace Giftwrap.Patterns;

internal enum StringPatternKind
{
    Wildcard,
    Suffix,
    All,
    Known,
    Prefix,
    Exact,
}

internal sealed class StringPattern
{
    private readonly Wildcard? _wildcard;

    public StringPattern(string token)
    {
        Token = token;
        if (Wildcard.HasWildcard(token))
        {
            Kind = StringPatternKind.Wildcard;
            _wildcard = new Wildcard(token, ignoreCase: WildcardIgnoresCase);
        }
        else if (token.StartsWith('.'))
        {
            Kind = StringPatternKind.Suffix;
        }
        else if (Ascii.EqualsIgnoreCase(token, "ALL"))
        {
            Kind = StringPatternKind.All;
        }
        else if (Ascii.EqualsIgnoreCase(token, "KNOWN"))
        {
            Kind = StringPatternKind.Known;
        }
        else if (token.EndsWith('.'))
        {
            Kind = StringPatternKind.Prefix;
        }
        else
        {
            Kind = StringPatternKind.Exact;
        }
    }

    /// <summary>Debian's wildcard matcher ignores case, like the rest of the language.</summary>
    internal const bool WildcardIgnoresCase = true;

    public string Token { get; }
    public StringPatternKind Kind { get; }

    public bool IsMatch(string s) => Kind switch
    {
        StringPatternKind.Wildcard => _wildcard!.IsMatch(s),
        // The name must be longer than the suffix: `.tue.nl` does not match `tue.nl`.
        StringPatternKind.Suffix => s.Length > Token.Length && Ascii.EqualsIgnoreCase(s.AsSpan(s.Length - Token.Length), Token),
        StringPatternKind.All => true,
        StringPatternKind.Known => !Ascii.EqualsIgnoreCase(s, AccessRequest.Unknown),
        StringPatternKind.Prefix => Ascii.StartsWithIgnoreCase(s, Token),
        _ => Ascii.EqualsIgnoreCase(Token, Unmapped(s)),
    };

    /// <summary>An IPv4-mapped IPv6 address (::ffff:a.b.c.d) compares as its IPv4 form.</summary>
    internal static ReadOnlySpan<char> Unmapped(string s)
    {
        if (s.Length > 7 && Ascii.StartsWithIgnoreCase(s, "::ffff:") && Ipv4.TryParseDotQuad(s.AsSpan(7), out _))
            return s.AsSpan(7);
        return s;
    }
}
