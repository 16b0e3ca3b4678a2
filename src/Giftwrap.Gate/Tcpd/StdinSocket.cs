// The connection tcpd mode was started with, read straight from descriptor 0 with
// getpeername(2) and getsockname(2). No .NET Socket is built for it unless an option
// needs one: the first Socket of a process starts the runtime's I/O thread, which a
// program that lives for one decision and then execs has no use for.
using System.Net;
using Giftwrap.Gate.Forwarding;

namespace Giftwrap.Gate.Tcpd;

internal static class StdinSocket
{
    /// <summary>The peer and local TCP endpoints of descriptor 0, or null when it is not an IPv4/IPv6 socket.</summary>
    public static (IPEndPoint Remote, IPEndPoint Local)? Endpoints() =>
        SockAddr.Peer(0) is { } remote && SockAddr.Local(0) is { } local ? (remote, local) : null;
}
