// A datagram service's socket as libwrap's socket.c sees it. There is no connection:
// sock_host() takes the client from the first queued datagram, read with MSG_PEEK so the
// daemon still gets it, and sock_sink() reads that datagram away when the request is
// refused, or inetd (which waits for readability again) would start the service at once.
// The server address is getsockname(2): the wildcard address when the socket is bound to it.
using System.Net;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Forwarding;

namespace Giftwrap.Gate.Listening;

internal static unsafe partial class Datagram
{
    private const int SockDgram = 2;
    private const int SoType = 3;
    private const int MsgPeek = 2;
    private const int MsgDontWait = 0x40;
    private const int EAgain = 11;

    /// <summary>Whether <paramref name="fd"/> is a datagram socket (SO_TYPE is SOCK_DGRAM).</summary>
    public static bool IsDatagram(int fd)
    {
        int type;
        var length = (uint)sizeof(int);
        return Sys.getsockopt(fd, Sys.SolSocket, SoType, &type, &length) == 0 && type == SockDgram;
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
        var sa = stackalloc byte[128];
        var length = 128u;
        var n = recvfrom(fd, data, 16, MsgPeek | (wait ? 0 : MsgDontWait), sa, &length);
        if (n < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            error = errno == EAgain && !wait ? null : Marshal.GetPInvokeErrorMessage(errno);
            return null;
        }
        error = null;
        return SockAddr.ToEndPoint(new ReadOnlySpan<byte>(sa, (int)Math.Min(length, 128u)));
    }

    /// <summary>socket.c sock_sink(): reads one queued datagram away, without waiting for one.</summary>
    public static bool Sink(int fd)
    {
        var data = stackalloc byte[16];
        return recvfrom(fd, data, 16, MsgDontWait, null, null) >= 0;
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial nint recvfrom(int fd, byte* buf, nuint length, int flags, byte* addr, uint* addrLength);
}
