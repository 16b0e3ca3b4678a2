// Cutting text the way libwrap does: strtok() on the list separators, and
// split_at() that (with the IPv6 patch) ignores delimiters inside [brackets].
namespace Giftwrap.Patterns;

internal static class Tokens
{
    /// <summary>libwrap's list separators: blanks, commas, CR and LF.</summary>
    public const string Separators = ", \t\r\n";

    public static List<(string Token, int Offset)> Split(string list, int baseOffset)
    {
        var result = new List<(string, int)>();
        var i = 0;
        while (i < list.Length)
        {
            while (i < list.Length && Separators.Contains(list[i], StringComparison.Ordinal))
                i++;
            var start = i;
            while (i < list.Length && !Separators.Contains(list[i], StringComparison.Ordinal))
                i++;
            if (i > start)
                result.Add((list[start..i], baseOffset + start));
        }
        return result;
    }

    /// <summary>split_at(): index of the first delimiter outside brackets, or -1.</summary>
    public static int SplitAt(string s, char delimiter, int from = 0)
    {
        var depth = 0;
        for (var i = from; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '[')
                depth++;
            else if (c == ']')
                depth--;
            else if (depth == 0 && c == delimiter)
                return i;
        }
        return -1;
    }
}
