// Lookups through the C library, so /etc/hosts, nsswitch and the system's resolver apply,
// as they do for libwrap. Reverse lookups call getnameinfo(NI_NAMEREQD) directly: System.Net.Dns
// would also look the name up forward and fail the whole lookup when that fails, hiding the
// difference between "no name" (unknown) and "a name that does not verify" (paranoid).
// The forward lookup for verification is getaddrinfo(AI_CANONNAME) with the client's family, as
// libwrap's sock_hostname() asks it: the canonical name matters ("host name/name mismatch"), and
// names go to the C library as the bytes they came as (Latin-1: one char per byte), not as IDN.
// The calls block a thread-pool thread; cancelling only abandons the wait (see HostNameVerifier).
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Giftwrap.Net.Interop;

namespace Giftwrap.Net.Dns;

/// <summary>Looks names and addresses up through the system resolver (getnameinfo, getaddrinfo).</summary>
public sealed class SystemDnsClient : IDnsClient
{
    /// <summary>The shared instance.</summary>
    public static readonly SystemDnsClient Instance = new();

    /// <inheritdoc/>
    public async Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var name = await Task.Run(() => GetNameInfo(address), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
        return name is null ? [] : [name];
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        // getaddrinfo answers a literal address with itself; a PTR name "1.2.3.4" must not verify itself.
        if (name.Length == 0 || IPAddress.TryParse(name, out _))
            return [];
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

    /// <inheritdoc/>
    public async Task<ForwardAnswer> ForwardCanonicalAsync(string name, AddressFamily family, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        return await Task.Run(() => GetAddrInfo(name, family), cancellationToken).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>getaddrinfo(name, AI_PASSIVE | AI_CANONNAME, family): blocking; "no such name" is an empty answer.</summary>
    internal static ForwardAnswer GetAddrInfo(string name, AddressFamily family)
    {
        if (name.Length == 0 || name.Contains('\0', StringComparison.Ordinal) || name.AsSpan().ContainsAnyExceptInRange('\u0001', '\u00ff'))
            return new ForwardAnswer(null, []);
        var node = new byte[name.Length + 1];
        Encoding.Latin1.GetBytes(name, node);
        var hints = new AddrInfo
        {
            Flags = Libc.AiPassive | Libc.AiCanonName,
            Family = family == AddressFamily.InterNetworkV6 ? Libc.AfInet6 : Libc.AfInet,
            SockType = Libc.SockStream,
        };
        var result = Libc.getaddrinfo(ref node[0], 0, ref hints, out var list);
        if (result is Libc.EaiNoName or Libc.EaiNoData or Libc.EaiAddrFamily)
            return new ForwardAnswer(null, []);
        if (result != 0)
            throw new DnsLookupException(DnsFailure.ServerFailure, $"getaddrinfo({name}) failed: {result}");
        try
        {
            return Read(list);
        }
        finally
        {
            Libc.freeaddrinfo(list);
        }
    }

    private static unsafe ForwardAnswer Read(nint list)
    {
        var first = (AddrInfo*)list;
        var canonical = first->CanonName == 0 ? null : Latin1Z((byte*)first->CanonName);
        var addresses = new List<IPAddress>();
        for (var entry = first; entry is not null; entry = (AddrInfo*)entry->Next)
        {
            var sa = (byte*)entry->Addr;
            if (sa is null)
                continue;
            if (entry->Family == Libc.AfInet && entry->AddrLen >= 8)
                addresses.Add(new IPAddress(new ReadOnlySpan<byte>(sa + 4, 4)));
            else if (entry->Family == Libc.AfInet6 && entry->AddrLen >= 28)
                addresses.Add(new IPAddress(new ReadOnlySpan<byte>(sa + 8, 16), *(uint*)(sa + 24)));
        }
        return new ForwardAnswer(canonical, addresses);
    }

    private static unsafe string Latin1Z(byte* text)
    {
        var length = 0;
        while (text[length] != 0)
            length++;
        return Encoding.Latin1.GetString(text, length);
    }

    internal static string? GetNameInfo(IPAddress address)
    {
        var socketAddress = new IPEndPoint(address, 0).Serialize();
        var sockaddr = socketAddress.Buffer.Span[..socketAddress.Size];
        var host = new byte[Libc.NiMaxHost];
        var result = Libc.getnameinfo(ref MemoryMarshal.GetReference(sockaddr), (uint)sockaddr.Length,
            ref host[0], (uint)host.Length, 0, 0, Libc.NiNameReqd);
        if (result is Libc.EaiNoName or Libc.EaiNoData)
            return null;
        if (result != 0)
            throw new DnsLookupException(DnsFailure.ServerFailure, $"getnameinfo({address}) failed: {result}");
        var length = host.AsSpan().IndexOf((byte)0);
        // Latin-1: one char per octet, so odd bytes stay visible to HostNameVerifier's checks.
        return Encoding.Latin1.GetString(host, 0, length < 0 ? host.Length : length);
    }

}
