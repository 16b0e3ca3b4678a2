// Numbers read the way the C library reads them in libwrap's code paths: atoi()
// (leading blanks, a sign, digits up to the first non-digit, strtol's saturation,
// then truncation to int) and sscanf("%d%c") / sscanf("%o%c") as options.c uses them.
// Reproduced because the truncation changes outcomes: glibc converts with the 64-bit
// strtol/strtoul and stores the low 32 bits, so "linger 2147483648" is -2147483648 (bad)
// and "umask 40000000022" is 022 (good).
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
        var l = overflow ? (negative ? long.MinValue : long.MaxValue) : negative ? unchecked(-(long)v) : (long)v;
        return unchecked((int)l);
    }

    /// <summary>
    /// sscanf(s, "%d%c", &amp;int, &amp;junk) == 1: isspace() blanks, a sign, decimal digits and nothing after.
    /// glibc's scanf converts with strtol (64 bits, saturating) and stores the low 32 bits into the int.
    /// </summary>
    public static bool TryScanInt(ReadOnlySpan<char> s, out int value)
    {
        value = 0;
        if (!TryScan(s, 10, out var negative, out var magnitude, out var overflow))
            return false;
        // strtol saturates at LONG_MIN/LONG_MAX (-9223372036854775808 itself is exact).
        var l = overflow ? (negative ? long.MinValue : long.MaxValue)
            : negative ? (magnitude > (ulong)long.MaxValue ? long.MinValue : unchecked(-(long)magnitude))
            : magnitude > long.MaxValue ? long.MaxValue : (long)magnitude;
        value = unchecked((int)l);
        return true;
    }

    /// <summary>
    /// sscanf(s, "%o%c") == 1 (radix 8) or "%u%c" (radix 10) into an unsigned int: as <see cref="TryScanInt"/>,
    /// through strtoul (a '-' negates modulo 2^64, overflow gives ULONG_MAX), the low 32 bits kept.
    /// </summary>
    public static bool TryScanUnsigned(ReadOnlySpan<char> s, int radix, out uint value)
    {
        value = 0;
        if (!TryScan(s, radix, out var negative, out var magnitude, out var overflow))
            return false;
        var u = overflow ? ulong.MaxValue : negative ? unchecked(0UL - magnitude) : magnitude;
        value = unchecked((uint)u);
        return true;
    }

    // The part of glibc's vfscanf that both conversions share: skip isspace(), one sign, at least one
    // digit of the radix, and then the %c must find nothing (the field has to end there).
    private static bool TryScan(ReadOnlySpan<char> s, int radix, out bool negative, out ulong magnitude, out bool overflow)
    {
        negative = false;
        magnitude = 0;
        overflow = false;
        var i = 0;
        while (i < s.Length && s[i] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r')
            i++;
        if (i < s.Length && s[i] is '+' or '-')
            negative = s[i++] == '-';
        var start = i;
        for (; i < s.Length && s[i] >= '0' && s[i] < '0' + radix; i++)
        {
            var digit = (ulong)(s[i] - '0');
            if (magnitude > (ulong.MaxValue - digit) / (ulong)radix)
                overflow = true;
            else
                magnitude = magnitude * (ulong)radix + digit;
        }
        return i > start && i == s.Length;
    }
}
