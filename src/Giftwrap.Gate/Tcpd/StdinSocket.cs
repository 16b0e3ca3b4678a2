// The connection tcpd mode was started with, read straight from descriptor 0 with
// getpeername(2) and getsockname(2). No .NET Socket is built for it unless an option
// needs one: the first Socket of a process starts the runtime's I/O thread, which a
// program that lives for one decision and then execs has no use for. A datagram socket
// (a `dgram udp wait` service) has no peer: its client is the first queued datagram's
// source, as in libwrap's socket.c sock_host().
using System.Net;
using Giftwrap.Gate.Interop;
using Giftwrap.Gate.Listening;

namespace Giftwrap.Gate.Tcpd;

/// <summary>What descriptor 0 says of the request: the endpoints (null where unknown), whether it is a datagram service, and libwrap's warning when the client could not be read.</summary>
/// <remarks>A class, not a record: nothing compares them, and a record's members were on giftwrap-tcpd's start.</remarks>
internal sealed class StdinRequest(IPEndPoint? remote, IPEndPoint? local, bool datagram, string? warning)
{
    public IPEndPoint? Remote { get; } = remote;
    public IPEndPoint? Local { get; } = local;
    public bool Datagram { get; } = datagram;
    public string? Warning { get; } = warning;
}

internal static class StdinSocket
{
    /// <summary>
    /// The request on descriptor 0. For a datagram socket, socket.c sock_host(): getpeername() fails, so the
    /// client is the next datagram's source (waited for, as libwrap's blocking recvfrom does); when that
    /// fails, tcpd warns "can't get client address" and gives up before getsockname(), both ends unknown.
    /// </summary>
    public static StdinRequest Read()
    {
        // A connected socket: both ends, or neither (not an IPv4/IPv6 socket).
        if (SockAddr.Peer(0) is { } remote)
            return SockAddr.Local(0) is { } local ? new StdinRequest(remote, local, false, null) : new StdinRequest(null, null, false, null);
        if (!Datagram.IsDatagram(0))
            return new StdinRequest(null, null, false, null);
        if (Datagram.PeekSource(0, wait: true, out var error) is not { } client)
            return new StdinRequest(null, null, true, $"warning: can't get client address: {error ?? "no address"}");
        return new StdinRequest(client, SockAddr.Local(0), true, null);
    }
}
