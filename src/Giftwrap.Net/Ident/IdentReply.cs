// Reads one RFC 1413 reply line, as libwrap's rfc931.c does with
// sscanf("%u , %u : USERID :%*[^:]:%255s"): the ports must echo the query, the type must be
// USERID, and the user id is the first word after the third colon. Everything else is unknown.
using System.Globalization;
using System.Text;
using Giftwrap.Decisions;

namespace Giftwrap.Net.Ident;

internal static class IdentReply
{
    /// <summary>The user id in <paramref name="line"/> (no line ending), or <c>unknown</c>.</summary>
    internal static string Parse(ReadOnlySpan<byte> line, int clientPort, int serverPort)
    {
        // Latin-1: one char per octet, so the checks below see every byte the peer sent.
        var text = Encoding.Latin1.GetString(line);
        var fields = text.Split(':', 4);
        if (fields.Length != 4 || !PortsEcho(fields[0], clientPort, serverPort)
            || !string.Equals(fields[1].Trim(' ', '\t'), "USERID", StringComparison.Ordinal))
        {
            return AccessRequest.Unknown; // ERROR replies, other types, malformed lines.
        }
        var user = FirstWord(fields[3]);
        if (user.Length == 0)
            return AccessRequest.Unknown;
        foreach (var c in user)
        {
            // RFC 1413 forbids NUL, CR and LF in the id; we refuse every control char.
            if (c is < ' ' or '\x7f')
                return AccessRequest.Unknown;
        }
        return user.Length <= AccessRequest.MaxFieldLength ? user : user[..AccessRequest.MaxFieldLength];
    }

    /// <summary>RFC 1413 section 6: the reply repeats the port pair; a reply for other ports is not ours.</summary>
    private static bool PortsEcho(string field, int clientPort, int serverPort)
    {
        var ports = field.Split(',');
        return ports.Length == 2
            && TryPort(ports[0], out var client) && client == clientPort
            && TryPort(ports[1], out var server) && server == serverPort;
    }

    private static bool TryPort(string text, out int port) =>
        int.TryParse(text.AsSpan().Trim(" \t"), NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;

    /// <summary>libwrap's "%255s": skip spaces and tabs, take the word up to the next one.</summary>
    private static string FirstWord(string field)
    {
        var rest = field.AsSpan().TrimStart(" \t");
        var end = rest.IndexOfAny(' ', '\t');
        return (end < 0 ? rest : rest[..end]).ToString();
    }
}
