// The writers' lock: flock(2) on DIR/lock, held while a process reads the journal's end,
// decides and appends, compacts, or rewrites hosts.deny. Opened with open(2) directly:
// .NET's FileStream takes its own non-blocking flock on every file it opens, which would
// make a second opener fail instead of wait.
using System.Runtime.InteropServices;

namespace Giftwrap.Bans.Storage;

internal sealed partial class StoreLock : IDisposable
{
    private const int ORdOnly = 0, ORdWr = 2, OCreat = 0x40, OCloExec = 0x80000;
    private int _fd;

    private StoreLock(int fd) => _fd = fd;

    /// <summary>Takes the lock, waiting up to <paramref name="timeout"/>; throws IOException when it cannot.</summary>
    public static StoreLock Acquire(string path, TimeSpan timeout)
    {
        var fd = open(path, ORdWr | OCreat | OCloExec, 420 /* 0644 */);
        if (fd < 0)
            fd = open(path, ORdOnly | OCloExec, 0);
        if (fd < 0)
            throw new IOException($"{path}: cannot open the ban store lock (errno {Marshal.GetLastPInvokeError()})");
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        // LOCK_NB and a short sleep rather than a blocking flock: a holder stopped with
        // SIGSTOP gives an error after the timeout instead of a hung gate.
        while (flock(fd, 2 /* LOCK_EX */ | 4 /* LOCK_NB */) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if ((errno != 11 /* EWOULDBLOCK */ && errno != 4 /* EINTR */) || Environment.TickCount64 > deadline)
            {
                _ = close(fd);
                throw new IOException(errno is 11 or 4
                    ? $"{path}: another process has held the ban store lock for over {timeout.TotalSeconds:0} s"
                    : $"{path}: flock failed (errno {errno})");
            }
            Thread.Sleep(2);
        }
        return new StoreLock(fd);
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
            _ = close(fd); // closing the descriptor releases the flock
    }

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, int mode);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int close(int fd);
}
