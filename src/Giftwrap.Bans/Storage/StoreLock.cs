// The writers' lock: flock(2) on DIR/lock, held while a process reads the journal's end,
// decides and appends, compacts, or rewrites hosts.deny. Opened with open(2) directly:
// .NET's FileStream takes its own non-blocking flock on every file it opens, which would
// make a second opener fail instead of wait.
using System.Runtime.InteropServices;
using Giftwrap.Bans.Interop;

namespace Giftwrap.Bans.Storage;

internal sealed class StoreLock : IDisposable
{
    private int _fd;

    private StoreLock(int fd) => _fd = fd;

    /// <summary>Takes the lock, waiting up to <paramref name="timeout"/>; throws IOException when it cannot.</summary>
    public static StoreLock Acquire(string path, TimeSpan timeout)
    {
        var fd = Libc.open(path, Libc.ORdWr | Libc.OCreat | Libc.OCloExec, 420 /* 0644 */);
        if (fd < 0)
            fd = Libc.open(path, Libc.ORdOnly | Libc.OCloExec, 0);
        if (fd < 0)
            throw new IOException($"{path}: cannot open the ban store lock (errno {Marshal.GetLastPInvokeError()})");
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        // LOCK_NB and a short sleep rather than a blocking flock: a holder stopped with
        // SIGSTOP gives an error after the timeout instead of a hung gate.
        while (Libc.flock(fd, Libc.LockEx | Libc.LockNb) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if ((errno != Libc.EWouldBlock && errno != Libc.EIntr) || Environment.TickCount64 > deadline)
            {
                _ = Libc.close(fd);
                throw new IOException(errno is Libc.EWouldBlock or Libc.EIntr
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
            _ = Libc.close(fd); // closing the descriptor releases the flock
    }

}
