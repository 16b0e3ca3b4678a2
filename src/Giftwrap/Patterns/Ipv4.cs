// IPv4 text forms as libwrap reads them: dot_quad_addr() (inet_aton on exactly four
// dot-separated runs, so 010 is octal and 0x10 hex) and the net/mask and net/len forms.
namespace Giftwrap.Patterns;

internal static class Ipv4
{
    /// <summary>dot_quad_addr(): four runs of non-dots parsed by inet_aton(). 255.255.255.255 is INADDR_NONE there too.</summary>
    public static bool TryParseDotQuad(ReadOnlySpan<char> s, out uint address)
    {
        address = 0;
        var runs = 0;
        var inRun = false;
        foreach (var c in s)
        {
            if (c == '.')
            {
                inRun = false;
            }
            else if (!inRun)
            {
                inRun = true;
                runs++;
            }
        }
        return runs == 4 && TryInetAton(s, out address) && address != uint.MaxValue;
    }

    /// <summary>inet_aton(): 1 to 4 parts in C notation (decimal, 0octal, 0xhex); the last fills the rest.</summary>
    public static bool TryInetAton(ReadOnlySpan<char> s, out uint address)
    {
        address = 0;
        Span<ulong> parts = stackalloc ulong[4];
        var count = 0;
        var i = 0;
        while (true)
        {
            if (i >= s.Length || !char.IsAsciiDigit(s[i]))
                return false;
            ulong value = 0;
            var radix = 10u;
            if (s[i] == '0')
            {
                radix = 8;
                i++;
                if (i < s.Length && (s[i] == 'x' || s[i] == 'X'))
                {
                    radix = 16;
                    i++;
                }
            }
            while (i < s.Length)
            {
                var c = s[i];
                int d;
                if (char.IsAsciiDigit(c))
                {
                    d = c - '0';
                    if (radix == 8 && d > 7)
                        return false;
                }
                else if (radix == 16 && char.IsAsciiHexDigit(c))
                {
                    d = Ascii.Lower(c) - 'a' + 10;
                }
                else
                {
                    break;
                }
                value = value * radix + (uint)d;
                if (value > uint.MaxValue)
                    return false;
                i++;
            }
            if (count == 4)
                return false;
            parts[count++] = value;
            if (i == s.Length)
                break;
            if (s[i] != '.')
                return false;
            i++;
        }
        ulong result;
        switch (count)
        {
            case 1:
                result = parts[0];
                break;
            case 2:
                if (parts[0] > 0xff || parts[1] > 0xffffff)
                    return false;
                result = (parts[0] << 24) | parts[1];
                break;
            case 3:
                if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xffff)
                    return false;
                result = (parts[0] << 24) | (parts[1] << 16) | parts[2];
                break;
            default:
                if (parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xff || parts[3] > 0xff)
                    return false;
                result = (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3];
                break;
        }
        address = (uint)result;
        return true;
    }
}
