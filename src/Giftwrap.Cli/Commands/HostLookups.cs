// The name service as tcpdmatch and tcpdchk see it: find_inet_addr (scaffold.c),
// sock_hostname's two-way verification of an address's name (socket.c, with its warnings;
// the gate's own HostNameVerifier from Giftwrap.Net does it), check_dns, and netgroup
// existence (getnetgrent). Blocking calls into the C library, so that /etc/hosts, nsswitch
// and DNS answer exactly as they do for libwrap; used by the two tools only.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Checks;
using Giftwrap.Cli.Interop;
using Giftwrap.Decisions;
using Giftwrap.Net.Dns;
using Giftwrap.Patterns;
using Ascii = Giftwrap.Patterns.Ascii;

namespace Giftwrap.Cli.Commands;

internal sealed class HostLookups : ICheckLookups
{
    // libwrap keeps names in STRING_LENGTH (128) byte buffers: STRN_CPY keeps 127.
    private const int StringLength = 128;

    public static readonly HostLookups Instance = new();

    /// <summary>
    /// The resolver's own timeouts decide, as they do for tcpdmatch and tcpdchk (the bound is only
    /// there because the verifier needs one), and nothing is cached: each question is asked afresh.
    /// </summary>
    private static readonly HostNameVerifier Verifier = new(SystemDnsClient.Instance, new HostNameVerifierOptions
    {
        Timeout = TimeSpan.FromMinutes(10),
        CacheSize = 0,
        FailureCacheTtl = TimeSpan.Zero,
        CacheTtl = TimeSpan.Zero,
    });

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
    /// name and address do not agree both ways, <c>unknown</c> when there is no name; warnings as
    /// libwrap's. The gate's verifier (Giftwrap.Net) does it, so the tools and the gate cannot disagree.
    /// </summary>
    public static string VerifiedName(IPAddress address, List<string> warnings)
    {
        // ICheckLookups and the match tool ask one address at a time, synchronously, as tcpdmatch
        // does; waiting here blocks this thread as the C call did (a console program: no
        // synchronization context to deadlock on).
        var lookup = Verifier.VerifyAsync(address, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        if (lookup.Warning is { } warning)
            warnings.Add(warning);
        return lookup.Name;
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
}
