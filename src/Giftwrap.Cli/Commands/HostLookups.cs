// The name service as tcpdmatch and tcpdchk see it: find_inet_addr (scaffold.c),
// sock_hostname's two-way verification of an address's name (socket.c, with its
// warnings), check_dns, and netgroup existence (getnetgrent). Blocking calls into
// the C library, so that /etc/hosts, nsswitch and DNS answer exactly as they do
// for libwrap; used by the two tools only, never by the gate's decisions.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Checks;
using Giftwrap.Cli.Interop;
using Giftwrap.Decisions;
using Giftwrap.Patterns;
using Ascii = Giftwrap.Patterns.Ascii;

namespace Giftwrap.Cli.Commands;

internal sealed class HostLookups : ICheckLookups
{
    // libwrap keeps names in STRING_LENGTH (128) byte buffers: STRN_CPY keeps 127.
    private const int StringLength = 128;

    public static readonly HostLookups Instance = new();

    /// <summary>find_inet_addr(): a numeric address as such, else the name's addresses (null, with a warning, if none).</summary>
    public static IReadOnlyList<IPAddress>? FindInetAddr(string host, List<string> warnings)
    {
        if (Numeric(host) is { } numeric)
            return [numeric];
        // .NET would take "[::1]" or "1.2.3.4%x" as an address and look its name up; to the C library
        // they are names, and names that do not exist.
        if (IPAddress.TryParse(host, out _))
        {
            warnings.Add($"{host}: host not found");
            return null;
        }
        IPHostEntry entry;
        try
        {
            entry = Dns.GetHostEntry(host);
        }
        catch (SocketException)
        {
            warnings.Add($"{host}: host not found");
            return null;
        }
        catch (ArgumentException)
        {
            warnings.Add($"{host}: host not found");
            return null;
        }
        var addresses = entry.AddressList.Where(a => a.AddressFamily is AddressFamily.InterNetwork or AddressFamily.InterNetworkV6).ToList();
        if (addresses.Count == 0)
        {
            warnings.Add($"{host}: host not found");
            return null;
        }
        if (!Ascii.EqualsIgnoreCase(host, entry.HostName))
            warnings.Add($"{host}: hostname alias (official name: {Cut(entry.HostName)})");
        return addresses;
    }

    /// <summary>getaddrinfo(AI_NUMERICHOST): inet_aton's forms for IPv4 (127.5, 2130706437, 0x7f.0.0.5), or IPv6.</summary>
    public static IPAddress? Numeric(string host)
    {
        if (Ipv4.TryInetAton(host, out var v4))
            return new IPAddress([(byte)(v4 >> 24), (byte)(v4 >> 16), (byte)(v4 >> 8), (byte)v4]);
        // getaddrinfo() takes no brackets around an IPv6 literal.
        return host.Contains(':', StringComparison.Ordinal) && !host.Contains('[', StringComparison.Ordinal)
            && IPAddress.TryParse(host, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6 ? v6 : null;
    }

    /// <summary>
    /// sock_hostname() then eval_hostname(): the address's verified name, <c>paranoid</c> when the
    /// name and address do not agree both ways, <c>unknown</c> when there is no name; warnings as libwrap's.
    /// </summary>
    public static string VerifiedName(IPAddress address, List<string> warnings)
    {
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var name = NameInfo(address);
        if (name is null)
            return AccessRequest.Unknown;
        name = Cut(name);
        // socket.c: a reverse answer that is itself a numeric address is refused.
        if (IPAddress.TryParse(name, out var numeric) && numeric.AddressFamily == address.AddressFamily)
        {
            warnings.Add($"host name/name mismatch: reverse lookup results in non-FQDN {name}");
            return AccessRequest.Paranoid;
        }
        IPHostEntry entry;
        try
        {
            entry = Dns.GetHostEntry(name, address.AddressFamily);
        }
        catch (Exception ex) when (ex is SocketException or ArgumentException)
        {
            warnings.Add($"can't verify hostname: getaddrinfo({name}, {(address.AddressFamily == AddressFamily.InterNetwork ? "AF_INET" : "AF_INET6")}) failed");
            return AccessRequest.Paranoid;
        }
        if (!Ascii.EqualsIgnoreCase(name, entry.HostName) && !Ascii.EqualsIgnoreCase(name, "localhost"))
        {
            warnings.Add($"host name/name mismatch: {name} != {Cut(entry.HostName)}");
            return AccessRequest.Paranoid;
        }
        if (entry.AddressList.Contains(address))
            return name;
        warnings.Add($"host name/address mismatch: {address} != {Cut(entry.HostName)}");
        return AccessRequest.Paranoid;
    }

    /// <summary>check_dns(): every address of the host given a name workout; the number of addresses.</summary>
    public HostReport Host(string host)
    {
        var warnings = new List<string>();
        var addresses = FindInetAddr(host, warnings);
        if (addresses is null)
            return new HostReport(0, warnings);
        foreach (var a in addresses)
        {
            if (VerifiedName(a, warnings) == AccessRequest.Unknown)
                warnings.Add($"host address {a}->name lookup failed");
        }
        return new HostReport(addresses.Count, warnings);
    }

    /// <summary>tcpdchk's test: setnetgrent() then one getnetgrent() that yields a member.</summary>
    public bool NetgroupExists(string name)
    {
        try
        {
            Libc.setnetgrent(name);
            return Libc.getnetgrent(out _, out _, out _) != 0;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // No netgroup support in this C library: say nothing rather than a false warning.
            return true;
        }
        finally
        {
            try
            {
                Libc.endnetgrent();
            }
            catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
            {
                // As above: nothing to end.
            }
        }
    }

    private static string Cut(string name) => name.Length >= StringLength ? name[..(StringLength - 1)] : name;

    /// <summary>getnameinfo(NI_NAMEREQD): the address's name, or null.</summary>
    private static string? NameInfo(IPAddress address)
    {
        var sa = SockAddr(address);
        var host = new byte[Libc.NiMaxHost];
        var rc = Libc.getnameinfo(sa, sa.Length, host, host.Length, null, 0, Libc.NiNameReqd);
        if (rc != 0)
            return null;
        var end = Array.IndexOf(host, (byte)0);
        return Encoding.Latin1.GetString(host, 0, end < 0 ? host.Length : end);
    }

    private static byte[] SockAddr(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var sa = new byte[Libc.SockAddrInSize];
            BitConverter.TryWriteBytes(sa.AsSpan(0, 2), Libc.AfInet);
            bytes.CopyTo(sa, Libc.SinAddrOffset);
            return sa;
        }
        var sa6 = new byte[Libc.SockAddrIn6Size];
        BitConverter.TryWriteBytes(sa6.AsSpan(0, 2), Libc.AfInet6);
        bytes.CopyTo(sa6, Libc.Sin6AddrOffset);
        BitConverter.TryWriteBytes(sa6.AsSpan(Libc.Sin6ScopeIdOffset, 4), (uint)address.ScopeId);
        return sa6;
    }

}
