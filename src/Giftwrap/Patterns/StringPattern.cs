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
        Kind = Classify(token);
        if (Kind == StringPatternKind.Wildcard)
            _wildcard = new Wildcard(token, ignoreCase: WildcardIgnoresCase);
    }

    /// <summary>The kind of token, settled once (also for /file lists, which keep their words as text).</summary>
    public static StringPatternKind Classify(ReadOnlySpan<char> token)
    {
        if (token.IndexOfAny('*', '?') >= 0)
            return StringPatternKind.Wildcard;
        if (token.StartsWith('.'))
            return StringPatternKind.Suffix;
        if (Ascii.EqualsIgnoreCase(token, "ALL"))
            return StringPatternKind.All;
        if (Ascii.EqualsIgnoreCase(token, "KNOWN"))
            return StringPatternKind.Known;
        return token.EndsWith('.') ? StringPatternKind.Prefix : StringPatternKind.Exact;
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
