// A minimal stub resolver over UDP (RFC 1035 4.2.1) that asks one named server, so tests and
// administrators can point the gate at a chosen resolver ([dns] server = 127.0.0.1:5353).
// It does not retry, fall back to TCP, use EDNS, or follow referrals: it needs a recursive server.
// SECURITY: a random id and a fresh socket (random source port) per question; replies that do not
// echo id and question are ignored (RFC 5452), at most 16 of them; one 4 KB buffer per question.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Giftwrap.Net.Interop;

namespace Giftwrap.Net.Dns;

/// <summary>Asks one DNS server over UDP for PTR, A and AAAA records.</summary>
public sealed class UdpDnsClient : IDnsClient
{
    /// <summary>The port used when a server is given without one.</summary>
    public const int DefaultPort = 53;

    /// <summary>Datagrams larger than this are cut by the kernel and then fail to parse; we send no EDNS, so 512 is the norm.</summary>
    private const int ReceiveBufferSize = 4096;

    /// <summary>How many stray datagrams (wrong id or question) one question tolerates before giving up.</summary>
    private const int MaxStrayReplies = 16;

    /// <summary>Creates a client for <paramref name="server"/>.</summary>
    public UdpDnsClient(IPEndPoint server)
    {
        ArgumentNullException.ThrowIfNull(server);
        Server = server;
    }

    /// <summary>The server asked.</summary>
    public IPEndPoint Server { get; }

    /// <summary>Parses <c>address</c>, <c>address:port</c> or <c>[v6]:port</c>; the port defaults to 53.</summary>
    public static bool TryParseServer(string text, out IPEndPoint server)
    {
        server = null!;
        // IPAddress.TryParse accepts "[v6]:port" too, ignoring the port: only unbracketed text is a bare address.
        if (!text.StartsWith('[') && IPAddress.TryParse(text, out var address))
        {
            server = new IPEndPoint(address, DefaultPort);
            return true;
        }
        if (IPEndPoint.TryParse(text, out var endPoint) && endPoint.Port != 0)
        {
            server = endPoint;
            return true;
        }
        return false;
    }

    /// <inheritdoc/>
    /// <remarks>
    /// PTR targets that are not host names (a label with a byte other than a letter, digit, '-' or '_')
    /// are left out, as glibc's resolver leaves them out (res_hnok), so libwrap never sees them from DNS.
    /// </remarks>
    public async Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        var names = new List<string>();
        await QueryAsync(DnsMessage.ReverseName(address), DnsRecordType.Ptr, names, [], cancellationToken).ConfigureAwait(false);
        return names;
    }

    /// <inheritdoc/>
    /// <remarks>One question (A or AAAA); the canonical name is the owner of the first address record.</remarks>
    public async Task<ForwardAnswer> ForwardCanonicalAsync(string name, AddressFamily family, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (IPAddress.TryParse(name, out _))
            return new ForwardAnswer(null, []);
        var owners = new List<string>();
        var addresses = new List<IPAddress>();
        var type = family == AddressFamily.InterNetworkV6 ? DnsRecordType.Aaaa : DnsRecordType.A;
        await QueryAsync(name, type, owners, addresses, cancellationToken).ConfigureAwait(false);
        return new ForwardAnswer(owners.Count == 0 ? null : owners[0], addresses);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(name);
        // A literal address is not a name: answering it would let a PTR record "1.2.3.4" verify itself.
        if (IPAddress.TryParse(name, out _))
            return [];
        var v4 = new List<IPAddress>();
        var v6 = new List<IPAddress>();
        // Both questions must be answered: a partial answer could turn a good name into "paranoid".
        await Task.WhenAll(
            QueryAsync(name, DnsRecordType.A, [], v4, cancellationToken),
            QueryAsync(name, DnsRecordType.Aaaa, [], v6, cancellationToken)).ConfigureAwait(false);
        v4.AddRange(v6);
        return v4;
    }

    private async Task QueryAsync(string name, DnsRecordType type, List<string> names, List<IPAddress> addresses, CancellationToken cancellationToken)
    {
        var query = DnsMessage.BuildQuery(RandomQueryId(), name, type);
        if (query is null)
        {
            return; // Not a representable name: no such name can exist.
        }
        using var socket = new Socket(Server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        var buffer = new byte[ReceiveBufferSize];
        try
        {
            // Connected: the kernel drops datagrams from other sources and reports ICMP unreachable.
            await socket.ConnectAsync(Server, cancellationToken).ConfigureAwait(false);
            await socket.SendAsync(query, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            for (var stray = 0; stray <= MaxStrayReplies; stray++)
            {
                var received = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                var status = DnsMessage.ParseReply(buffer.AsSpan(0, received), query, type, names, addresses);
                if (status != ReplyStatus.NotOurs)
                {
                    ThrowUnlessAnswered(status, name);
                    return;
                }
            }
        }
        catch (SocketException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Expected on a dead or unreachable server; the caller sees one failure type.
            throw new DnsLookupException(DnsFailure.Network, $"DNS query for {name} to {Server} failed: {e.SocketErrorCode}", e);
        }
        throw new DnsLookupException(DnsFailure.Malformed, $"DNS query for {name}: too many stray replies from {Server}");
    }

    /// <summary>
    /// 16 bits from getrandom(2), the source RandomNumberGenerator reads on Linux, without the
    /// cryptography library's types in giftwrap-tcpd's start (docs/benchmarks.md, third round).
    /// </summary>
    private static ushort RandomQueryId()
    {
        Span<byte> id = stackalloc byte[2];
        while (true)
        {
            // At most 256 bytes are never cut short once the source is seeded; a signal before that interrupts.
            var read = Libc.getrandom(ref id[0], 2, 0);
            if (read == 2)
                return (ushort)(id[0] << 8 | id[1]);
            var errno = Marshal.GetLastPInvokeError();
            if (read < 0 && errno != Libc.EIntr)
                // Without unpredictable ids a forged reply could be taken (RFC 5452): no question is sent.
                throw new DnsLookupException(DnsFailure.Network, $"DNS query id: getrandom failed (errno {errno})");
        }
    }

    private static void ThrowUnlessAnswered(ReplyStatus status, string name)
    {
        switch (status)
        {
            case ReplyStatus.Answer:
            case ReplyStatus.NameError:
                return;
            case ReplyStatus.Truncated:
                throw new DnsLookupException(DnsFailure.Truncated, $"DNS reply for {name} was truncated");
            case ReplyStatus.ServerFailure:
                throw new DnsLookupException(DnsFailure.ServerFailure, $"DNS server failed for {name}");
            default:
                throw new DnsLookupException(DnsFailure.Malformed, $"DNS reply for {name} was malformed");
        }
    }
}
