// Numbers read the way the C library reads them in libwrap's code paths: atoi()
// (leading blanks, a sign, digits up to the first non-digit, strtol's saturation,
// then truncation to int). Reproduced because the truncation changes outcomes.
namespace Giftwrap.Patterns;

internal static class CNumbers
{
    public static int Atoi(ReadOnlySpan<char> s)
    {
        var i = 0;
        while (i < s.Length && s[i] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r')
            i++;
        var negative = false;
        if (i < s.Length && s[i] is '+' or '-')
            negative = s[i++] == '-';
        ulong v = 0;
        var overflow = false;
        for (; i < s.Length && char.IsAsciiDigit(s[i]); i++)
        {
            if (v > (ulong)long.MaxValue / 10)
                overflow = true;
            v = v * 10 + (ulong)(s[i] - '0');
            if (v > (ulong)long.MaxValue + (negative ? 1UL : 0UL))
                overflow = true;
        }
        long l = overflow ? (negative ? long.MinValue : long.MaxValue) : negative ? unchecked(-(long)v) : (long)v;
        return unchecked((int)l);
    }
}
