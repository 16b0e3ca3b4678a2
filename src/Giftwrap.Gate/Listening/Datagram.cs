// A datagram service's socket as libwrap's socket.c sees it. There is no connection:
// sock_host() takes the client from the first queued datagram, read with MSG_PEEK so the
// daemon still gets it, and sock_sink() reads that datagram away when the request is
// refused, or inetd (which waits for readability again) would start the service at once.
// The server address is getsockname(2): the wildcard address when the socket is bound to it.
using System.Net;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Listening;

internal static unsafe class Datagram
{
    /// <summary>Whether <paramref name="fd"/> is a datagram socket (SO_TYPE is SOCK_DGRAM).</summary>
    public static bool IsDatagram(int fd)
    {
        int type;
        var length = (uint)sizeof(int);
        return Libc.getsockopt(fd, Libc.SolSocket, Libc.SoType, &type, &length) == 0 && type == Libc.SockDgram;
    }

    /// <summary>
    /// The source of the next datagram on <paramref name="fd"/>, left queued (socket.c sock_host:
    /// recvfrom with MSG_PEEK). Blocks until one comes when <paramref name="wait"/>, as libwrap does
    /// on the blocking socket inetd hands over; else null at once when none is queued. Null with
    /// <paramref name="error"/> set when recvfrom fails.
    /// </summary>
    public static IPEndPoint? PeekSource(int fd, bool wait, out string? error)
    {
        // The datagram's bytes are not looked at: a few are enough, MSG_TRUNC is not an error.
        var data = stackalloc byte[16];
        var sa = stackalloc byte[SockAddr.StorageSize];
        var length = (uint)SockAddr.StorageSize;
        var n = Libc.recvfrom(fd, data, 16, Libc.MsgPeek | (wait ? 0 : Libc.MsgDontWait), sa, &length);
        if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            error = errno == Libc.EAgain && !wait ? null : Marshal.GetPInvokeErrorMessage(errno);
            return null;
        }
        error = null;
        return SockAddr.ToEndPoint(new ReadOnlySpan<byte>(sa, (int)Math.Min(length, (uint)SockAddr.StorageSize)));
    }

    /// <summary>socket.c sock_sink(): reads one queued datagram away, without waiting for one.</summary>
    public static bool Sink(int fd)
    {
        var data = stackalloc byte[16];
        return Libc.recvfrom(fd, data, 16, Libc.MsgDontWait, null, null) >= 0;
    }

}
