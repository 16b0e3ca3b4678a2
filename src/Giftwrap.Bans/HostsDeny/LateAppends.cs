// The hosts.deny files a sync replaced, looked at a while longer. An appender (Fail2ban's hostsdeny
// action, `echo >>`) that opened the file just before the rename writes its line into the old file,
// which nobody reads again: what arrives there is carried to the end of the file now in its place.
// HostsDenyFile does the replacing; this only carries over.
using System.Runtime.InteropServices;
using Giftwrap.Bans.Interop;
using Giftwrap.Bans.Storage;
using Microsoft.Win32.SafeHandles;

namespace Giftwrap.Bans.HostsDeny;

internal static class LateAppends
{
    /// <summary>How long a replaced file is looked at: longer than an appender stays between its open and its write on a loaded machine.</summary>
    private const long WindowMs = 5000;

    private const int EveryMs = 50;

    private static readonly List<Replaced> _replaced = [];
    private static Timer? _timer;

    /// <summary>
    /// Takes <paramref name="old"/> (the file replaced, read up to <paramref name="copied"/>) and looks at it
    /// now, 20 ms later (a short-lived `giftwrap ban` exits next), then in the background for a few seconds.
    /// </summary>
    public static void Watch(SafeFileHandle old, long copied, string path)
    {
        var r = new Replaced(old, path, Environment.TickCount64 + WindowMs) { Copied = copied };
        lock (_replaced)
        {
            _replaced.Add(r);
            _ = TryCarryOver(r);
        }
        Thread.Sleep(20);
        lock (_replaced)
        {
            _ = TryCarryOver(r);
            _timer ??= new Timer(_ => Tick(), null, Timeout.Infinite, Timeout.Infinite);
            _ = _timer.Change(EveryMs, EveryMs);
        }
    }

    /// <summary>Carries over what reached every file still watched; the first failure, or null.</summary>
    public static string? CarryOver()
    {
        string? problem = null;
        lock (_replaced)
        {
            foreach (var r in _replaced)
                problem ??= TryCarryOver(r);
        }
        return problem;
    }

    private static void Tick()
    {
        lock (_replaced)
        {
            var now = Environment.TickCount64;
            for (var i = _replaced.Count - 1; i >= 0; i--)
            {
                var r = _replaced[i];
                _ = TryCarryOver(r);
                if (now >= r.Until)
                {
                    r.Old.Dispose();
                    _replaced.RemoveAt(i);
                }
            }
            if (_replaced.Count == 0)
                _ = _timer?.Change(Timeout.Infinite, Timeout.Infinite);
        }
    }

    /// <summary>Appends to the file in place what came to <paramref name="r"/>'s old one since the last look; a problem, or null.</summary>
    private static string? TryCarryOver(Replaced r)
    {
        try
        {
            var length = RandomAccess.GetLength(r.Old);
            if (length <= r.Copied)
                return null;
            var extra = new byte[length - r.Copied];
            var n = RandomAccess.Read(r.Old, extra, r.Copied);
            // O_APPEND, as a shell's >> and Fail2ban's action write: the kernel puts each write at the
            // end. FileMode.Append only seeks to the end at the open, and a write after another
            // appender's lands on top of its line.
            var fd = Libc.open(r.Path, Libc.OWrOnly | Libc.OAppend | Libc.OCloExec, 0);
            if (fd < 0)
                throw new IOException($"{r.Path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            using var appending = new SafeFileHandle(fd, ownsHandle: true);
            RandomAccess.Write(appending, extra.AsSpan(0, n), 0);
            Native.FsyncOrThrow(appending, r.Path);
            r.Copied += n;
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Tried again at the next look, until the window ends.
            return $"cannot carry over lines appended to the file it replaced: {ex.Message}";
        }
    }

    private sealed class Replaced(SafeFileHandle old, string path, long until)
    {
        public SafeFileHandle Old { get; } = old;
        public string Path { get; } = path;
        public long Until { get; } = until;
        public long Copied { get; set; }
    }
}
