// Reading tcpdmatch's client and server arguments: an address (in any form
// inet_aton takes, or IPv6), the special names unknown and paranoid, or a host name
// to resolve, one prediction per address. DNS answers are verified both ways.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;

namespace Giftwrap.Cli.Commands;

internal static class HostArgument
{
    /// <summary>An address in canonical form, if the text is one.</summary>
    public static string? AsAddress(string text)
    {
        var t = text.StartsWith('[') && text.EndsWith(']') ? text[1..^1] : text;
        if (t.Contains(':', StringComparison.Ordinal) && IPAddress.TryParse(t, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
            return v6.ToString();
        // .NET reads IPv4 text the way inet_aton() does (1.2.3 is 1.2.0.3), as tcpdmatch does.
        if (!t.Contains(':', StringComparison.Ordinal) && t.Length > 0 && char.IsAsciiDigit(t[0])
            && IPAddress.TryParse(t, out var v4) && v4.AddressFamily == AddressFamily.InterNetwork)
            return v4.ToString();
        return null;
    }

    public static bool IsSpecialName(string text) =>
        text.Equals(AccessRequest.Unknown, StringComparison.OrdinalIgnoreCase) || text.Equals(AccessRequest.Paranoid, StringComparison.OrdinalIgnoreCase);

    public static async Task<IReadOnlyList<IPAddress>> ResolveAsync(string name, CancellationToken ct)
    {
        try
        {
            var list = await Dns.GetHostAddressesAsync(name, ct).ConfigureAwait(false);
            return [.. list.Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6).Distinct()];
        }
        catch (SocketException)
        {
            return [];
        }
    }

    /// <summary>The verified name of an address: its name, <c>paranoid</c> when the name does not map back, or <c>unknown</c>.</summary>
    public static async Task<string> VerifiedNameAsync(IPAddress address, CancellationToken ct)
    {
        string name;
        try
        {
            name = (await Dns.GetHostEntryAsync(address.ToString(), ct).ConfigureAwait(false)).HostName;
        }
        catch (SocketException)
        {
            return AccessRequest.Unknown;
        }
        if (string.IsNullOrEmpty(name) || name == address.ToString())
            return AccessRequest.Unknown;
        var back = await ResolveAsync(name, ct).ConfigureAwait(false);
        return back.Contains(address) ? name : AccessRequest.Paranoid;
    }
}
