// forward: a full-duplex proxy between the client and the backend. Each direction
// waits for data with a zero-byte receive, so an idle connection holds no buffer;
// data then moves through splice(2) (socket → pipe → socket, no copy through user
// space) or, where splice is unavailable, through a pooled buffer. A send is awaited
// before more is read, so a slow reader holds back the writer (backpressure) without
// memory growing. End of stream on one side becomes a half-close on the other.
using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Forwarding;

internal static partial class TcpForwarder
{
    private const int ChunkSize = 256 * 1024;
    private static int s_spliceWorks = 1;

    // The gate's own pool: at most a few dozen buffers kept per size, whatever the number of
    // threads (the shared pool keeps one per thread as well, which a burst of connections turns
    // into megabytes that stay).
    private static readonly ArrayPool<byte> Buffers = ArrayPool<byte>.Create(ChunkSize, maxArraysPerBucket: 32);

    /// <summary>Whether splice(2) is used (false after the kernel refused it once).</summary>
    public static bool UsesSplice => Volatile.Read(ref s_spliceWorks) == 1;

    /// <summary>
    /// Copies both ways until both directions are finished; returns the bytes each way. A reset on
    /// either side, or <paramref name="ct"/>, closes both sockets, which ends the other direction too.
    /// The socket operations themselves carry no token: one registration per connection, not one per receive.
    /// </summary>
    public static async Task<(long ToBackend, long ToClient)> ProxyAsync(Socket client, Socket backend, int bufferSize, CancellationToken ct)
    {
        var pair = new SocketPair(client, backend);
        using var stopping = ct.UnsafeRegister(static p => ((SocketPair)p!).Abort(), pair);
        var up = PumpAsync(client, backend, bufferSize, pair);
        var down = PumpAsync(backend, client, bufferSize, pair);
        await Task.WhenAll(up, down).ConfigureAwait(false);
        Giftwrap.Diagnostics.GiftwrapMetrics.Forwarded(up.Result, down.Result);
        return (up.Result, down.Result);
    }

    private sealed class SocketPair(Socket a, Socket b)
    {
        /// <summary>Closes both sockets: their pending operations end at once.</summary>
        public void Abort()
        {
            a.Dispose();
            b.Dispose();
        }
    }

    private static async Task<long> PumpAsync(Socket from, Socket to, int bufferSize, SocketPair pair)
    {
        long total = 0;
        try
        {
            // Three stages, each for a bigger flow: a small buffer of the direction's own (an idle
            // or chatty connection holds only that, and a read is one system call); a direction
            // that fills it goes on through a pooled buffer, waiting with zero-byte reads; one
            // that fills that is a bulk flow and moves to splice(2). Short and idle connections
            // never hold a pipe or a pooled buffer.
            var (copied, more) = await CopySmallAsync(from, to).ConfigureAwait(false);
            total = copied;
            var bulk = false;
            if (more)
            {
                (copied, bulk) = await CopyAsync(from, to, bufferSize, untilBulk: UsesSplice, CancellationToken.None).ConfigureAwait(false);
                total += copied;
            }
            if (bulk)
            {
                var spliced = await SpliceAsync(from, to, CancellationToken.None).ConfigureAwait(false);
                total += spliced.Bytes;
                if (spliced.Unsupported)
                    total += (await CopyAsync(from, to, bufferSize, untilBulk: false, CancellationToken.None).ConfigureAwait(false)).Bytes;
            }
            // Half-close: the other side learns that no more data comes this way.
            to.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // A reset or abort on either side ends both directions.
            pair.Abort();
        }
        return total;
    }

    /// <summary>The size of a direction's own buffer.</summary>
    public const int SmallBufferSize = 512;

    /// <summary>Copies through a small buffer until end of stream (false) or until a read fills it (true).</summary>
    private static async Task<(long Bytes, bool More)> CopySmallAsync(Socket from, Socket to)
    {
        var buffer = new byte[SmallBufferSize];
        long total = 0;
        while (true)
        {
            var n = await from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).ConfigureAwait(false);
            if (n == 0)
                return (total, false);
            await SendAllAsync(to, buffer.AsMemory(0, n), CancellationToken.None).ConfigureAwait(false);
            total += n;
            if (n == buffer.Length)
                return (total, true);
        }
    }

    /// <summary>Copies until end of stream, or (with <paramref name="untilBulk"/>) until a read fills the buffer.</summary>
    private static async Task<(long Bytes, bool Bulk)> CopyAsync(Socket from, Socket to, int bufferSize, bool untilBulk, CancellationToken ct)
    {
        long total = 0;
        while (true)
        {
            await from.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, ct).ConfigureAwait(false);
            var buffer = Buffers.Rent(bufferSize);
            try
            {
                var n = await from.ReceiveAsync(buffer.AsMemory(0, bufferSize), SocketFlags.None, ct).ConfigureAwait(false);
                if (n == 0)
                    return (total, false);
                await SendAllAsync(to, buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                total += n;
                if (untilBulk && n == bufferSize)
                    return (total, true);
            }
            finally
            {
                Buffers.Return(buffer);
            }
        }
    }

    private static async Task SendAllAsync(Socket to, ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        while (data.Length > 0)
        {
            var sent = await to.SendAsync(data, SocketFlags.None, ct).ConfigureAwait(false);
            data = data[sent..];
        }
    }

    private readonly record struct SpliceResult(long Bytes, bool Unsupported);

    /// <summary>socket → pipe → socket with splice(2); a full destination is drained through a buffer so the runtime waits for it.</summary>
    private static async Task<SpliceResult> SpliceAsync(Socket from, Socket to, CancellationToken ct)
    {
        var pipe = new int[2];
        if (pipe2(pipe, 0x800 /*O_NONBLOCK*/ | 0x80000 /*O_CLOEXEC*/) != 0)
            return new SpliceResult(0, true);
        _ = fcntl(pipe[1], 1031 /*F_SETPIPE_SZ*/, ChunkSize);
        long total = 0;
        byte[]? buffer = null;
        try
        {
            var fromFd = (int)from.SafeHandle.DangerousGetHandle();
            var toFd = (int)to.SafeHandle.DangerousGetHandle();
            while (true)
            {
                await from.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, ct).ConfigureAwait(false);
                var n = splice(fromFd, 0, pipe[1], 0, ChunkSize, SpliceFlags);
                if (n == 0)
                    return new SpliceResult(total, false);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EAgain)
                        continue;
                    if (total == 0 && errno is EInval or ENoSys)
                    {
                        Volatile.Write(ref s_spliceWorks, 0);
                        return new SpliceResult(0, true);
                    }
                    throw new SocketException(errno);
                }
                total += n;
                var pending = (int)n;
                while (pending > 0)
                {
                    var m = splice(pipe[0], 0, toFd, 0, (nuint)pending, SpliceFlags);
                    if (m > 0)
                    {
                        pending -= (int)m;
                        continue;
                    }
                    var errno = Marshal.GetLastPInvokeError();
                    if (m < 0 && errno != EAgain)
                        throw new SocketException(errno);
                    // The destination is full: take what is in the pipe and let the runtime wait for room.
                    buffer ??= Buffers.Rent(ChunkSize);
                    var k = (int)read(pipe[0], buffer, (nuint)Math.Min(pending, buffer.Length));
                    if (k <= 0)
                        throw new SocketException(Marshal.GetLastPInvokeError());
                    await SendAllAsync(to, buffer.AsMemory(0, k), ct).ConfigureAwait(false);
                    pending -= k;
                }
                if (buffer is not null)
                {
                    Buffers.Return(buffer);
                    buffer = null;
                }
            }
        }
        finally
        {
            if (buffer is not null)
                Buffers.Return(buffer);
            _ = close(pipe[0]);
            _ = close(pipe[1]);
        }
    }

    private const int EAgain = 11;
    private const int EInval = 22;
    private const int ENoSys = 38;
    private const uint SpliceFlags = 1 /*SPLICE_F_MOVE*/ | 2 /*SPLICE_F_NONBLOCK*/;

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial nint splice(int fdIn, nint offIn, int fdOut, nint offOut, nuint len, uint flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int pipe2([Out] int[] fds, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial nint read(int fd, [Out] byte[] buf, nuint count);

    [LibraryImport("libc.so.6")]
    private static partial int close(int fd);
}
