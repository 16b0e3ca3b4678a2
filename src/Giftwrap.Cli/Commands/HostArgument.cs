// Reading tcpdmatch's arguments as tcpdmatch.c does: split_at() on the first '@'
// outside brackets, a daemon path cut to its basename, libwrap's 127-byte fields,
// the daemon and user sanitised as Debian's tcpdmatch does before matching, and the
// client as a dotted quad (kept as typed), an IPv6 literal, the special names unknown
// and paranoid (spelling kept), or else anything the resolver takes (127.5, names).
using System.Text;
using Giftwrap.Patterns;
using Ascii = Giftwrap.Patterns.Ascii;

namespace Giftwrap.Cli.Commands;

internal static class HostArgument
{
    // percent_x.c ok_chars: every other byte becomes '_'.
    private const string OkChars = "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    // tcpd.h STRING_LENGTH: request fields hold 127 bytes and the terminator (update.c STRN_CPY).
    private const int StringLength = 128;

    /// <summary>split_at(): the text before and after the first delimiter outside [brackets], or null after.</summary>
    public static (string Before, string? After) SplitAt(string arg, char delimiter)
    {
        var at = Tokens.SplitAt(arg, delimiter);
        return at < 0 ? (arg, null) : (arg[..at], arg[(at + 1)..]);
    }

    /// <summary>STRN_CPY into a request field: at most 127 bytes.</summary>
    public static string Field(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return bytes.Length < StringLength ? text : Encoding.UTF8.GetString(bytes, 0, StringLength - 1);
    }

    /// <summary>The daemon or user as Debian's tcpdmatch matches it: 127 bytes, each byte outside percent_x's safe set made '_'.</summary>
    public static string Sanitised(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var n = Math.Min(bytes.Length, StringLength - 1);
        var sb = new StringBuilder(n);
        for (var i = 0; i < n; i++)
            sb.Append(bytes[i] < 128 && OkChars.Contains((char)bytes[i], StringComparison.Ordinal) ? (char)bytes[i] : '_');
        return sb.ToString();
    }

    /// <summary>tcpd.h NOT_INADDR: some character outside digits, '.' and '/'.</summary>
    public static bool NotInAddr(string s) => s.AsSpan().IndexOfAnyExcept("01234567890./") >= 0;

    /// <summary>tcpd.h HOSTNAME_KNOWN: neither unknown nor paranoid, in any case (STR_NE is strcasecmp).</summary>
    public static bool HostnameKnown(string s) =>
        !Ascii.EqualsIgnoreCase(s, Decisions.AccessRequest.Unknown) && !Ascii.EqualsIgnoreCase(s, Decisions.AccessRequest.Paranoid);

    /// <summary>dot_quad_addr(): exactly four dot-separated runs that inet_addr() takes.</summary>
    public static bool IsDotQuad(string s) => Ipv4.TryParseDotQuad(s, out _);

    /// <summary>getaddrinfo(AF_INET6, AI_NUMERICHOST) on the client argument.</summary>
    public static bool IsIpv6Literal(string s) =>
        HostLookups.Numeric(s) is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 };
}
