// Case-insensitive comparison as strcasecmp() does it in the C locale: only the
// ASCII letters fold. Culture-aware comparison would disagree with libwrap.
namespace Giftwrap.Patterns;

internal static class Ascii
{
    public static char Lower(char c) => c is >= 'A' and <= 'Z' ? (char)(c | 0x20) : c;

    public static bool EqualsIgnoreCase(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        if (a.Length != b.Length)
            return false;
        for (var i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i] && Lower(a[i]) != Lower(b[i]))
                return false;
        }
        return true;
    }

    public static bool StartsWithIgnoreCase(ReadOnlySpan<char> s, ReadOnlySpan<char> prefix) =>
        s.Length >= prefix.Length && EqualsIgnoreCase(s[..prefix.Length], prefix);

    public static string ToLower(string s)
    {
        foreach (var c in s)
        {
            if (c is >= 'A' and <= 'Z')
            {
                return string.Create(s.Length, s, static (dst, src) =>
                {
                    for (var i = 0; i < src.Length; i++)
                        dst[i] = Lower(src[i]);
                });
            }
        }
        return s;
    }
}
