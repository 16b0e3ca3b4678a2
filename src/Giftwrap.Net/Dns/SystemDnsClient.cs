// Lookups through the C library, so /etc/hosts, nsswitch and the system's resolver apply,
// as they do for libwrap. Reverse lookups call getnameinfo(NI_NAMEREQD) directly: System.Net.Dns
// would also look the name up forward and fail the whole lookup when that fails, hiding the
// difference between "no name" (unknown) and "a name that does not verify" (paranoid).
// The calls block a thread-pool thread; cancelling only abandons the wait (see HostNameVerifier).
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Giftwrap.Net.Dns;

/// <summary>Looks names and addresses up through the system resolver (getnameinfo, getaddrinfo).</summary>
public sealed partial class SystemDnsClient : IDnsClient
{
    private const int NiMaxHost = 1025;
    private const int NiNameRequired = 8;   // glibc NI_NAMEREQD
    private const int EaiNoName = -2;       // glibc EAI_NONAME
    private const int EaiNoData = -5;       // glibc EAI_NODATA

    /// <summary>The shared instance.</summary>
    public static readonly SystemDnsClient Instance = new();

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        string? name = await Task.Run(() => GetNameInfo(address), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        return name is null ? [] : [name];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        // getaddrinfo answers a literal address with itself; a PTR name "1.2.3.4" must not verify itself.
        if (name.Length == 0 || IPAddress.TryParse(name, out _))
        {
            return [];
        }
        try
        {
            return await System.Net.Dns.GetHostAddressesAsync(name, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.HostNotFound or SocketError.NoData)
        {
            return []; // The name does not exist or has no addresses: an answer, not a failure.
        }
        catch (SocketException e)
        {
            throw new DnsLookupException(DnsFailure.ServerFailure, $"getaddrinfo({name}) failed: {e.SocketErrorCode}", e);
        }
        catch (ArgumentException)
        {
            // System.Net.Dns rejects names it considers invalid (too long, bad characters): no such name.
            return [];
        }
    }

    private static string? GetNameInfo(IPAddress address)
    {
        SocketAddress socketAddress = new IPEndPoint(address, 0).Serialize();
        Span<byte> sockaddr = socketAddress.Buffer.Span[..socketAddress.Size];
        byte[] host = new byte[NiMaxHost];
        int result = getnameinfo(ref MemoryMarshal.GetReference(sockaddr), (uint)sockaddr.Length,
            ref host[0], (uint)host.Length, 0, 0, NiNameRequired);
        if (result is EaiNoName or EaiNoData)
        {
            return null;
        }
        if (result != 0)
        {
            throw new DnsLookupException(DnsFailure.ServerFailure, $"getnameinfo({address}) failed: {result}");
        }
        int length = host.AsSpan().IndexOf((byte)0);
        // Latin-1: one char per octet, so odd bytes stay visible to HostNameVerifier's checks.
        return Encoding.Latin1.GetString(host, 0, length < 0 ? host.Length : length);
    }

    [LibraryImport("libc.so.6")]
    private static partial int getnameinfo(ref byte sa, uint salen, ref byte host, uint hostlen, nint serv, uint servlen, int flags);
}
