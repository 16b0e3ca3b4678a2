// Addresses in the configuration: a.b.c.d:port or [v6]:port, numeric only. A host name is
// refused with a message that says so: the gate listens before any resolver is trusted,
// and a name that resolves differently tomorrow would move a listener without a word.
using System.Globalization;
using System.Net;

namespace Giftwrap.Configuration;

internal static class EndPointText
{
    /// <summary>
    /// Parses one address:port. <paramref name="defaultPort"/> is used when no port is written
    /// (0: a port is required). The error says what is wrong in words.
    /// </summary>
    public static bool TryParse(string text, int defaultPort, out IPEndPoint endPoint, out string error)
    {
        endPoint = new IPEndPoint(IPAddress.None, 0);
        error = "";
        string host;
        string? port;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < text.Length && text[close + 1] != ':'))
                return Fail($"\"{text}\" is not [IPv6-address]:port", out error);
            host = text[1..close];
            port = close + 1 < text.Length ? text[(close + 2)..] : null;
            if (!host.Contains(':', StringComparison.Ordinal))
                return Fail($"\"{text}\": only IPv6 addresses go in brackets", out error);
        }
        else
        {
            var colons = text.Count(c => c == ':');
            if (colons > 1)
                return Fail($"\"{text}\": write an IPv6 address in brackets, as [2001:db8::1]:port", out error);
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? text : text[..colon];
            port = colon < 0 ? null : text[(colon + 1)..];
            if (!IsDottedQuad(host))
            {
                return host.Any(char.IsAsciiLetter)
                    ? Fail($"\"{text}\": host names are not looked up here; write the address, such as 127.0.0.1:{port ?? "PORT"} or [::1]:{port ?? "PORT"}", out error)
                    : Fail($"\"{text}\": \"{host}\" is not an IP address", out error);
            }
        }
        if (!IPAddress.TryParse(host, out var address))
            return Fail($"\"{text}\": \"{host}\" is not an IP address", out error);
        int number;
        if (port is null)
        {
            if (defaultPort == 0)
                return Fail($"\"{text}\" has no port: write address:port", out error);
            number = defaultPort;
        }
        else if (port.Length == 0 || port.Length > 9 || !port.All(char.IsAsciiDigit))
        {
            return Fail($"\"{text}\": port \"{port}\" is not a number", out error);
        }
        else
        {
            number = int.Parse(port, NumberStyles.None, CultureInfo.InvariantCulture);
            if (number is < 1 or > 65535)
                return Fail($"\"{text}\": port {number} is out of range (1 to 65535)", out error);
        }
        endPoint = new IPEndPoint(address, number);
        return true;
    }

    // IPAddress.TryParse takes "1" and "10.1" as inet_aton does; a listen address wants all four parts.
    private static bool IsDottedQuad(string host)
    {
        var parts = host.Split('.');
        return parts.Length == 4 && parts.All(p => p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit));
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }
}
