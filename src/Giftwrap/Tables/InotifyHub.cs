// One inotify instance for the whole process, shared by every live AccessTables (each a
// ChangeMonitor): a gate that reloads its configuration a thousand times still holds one
// instance (the host-wide limit is 128 per user by default) and one watch per directory.
// The hub reads the events and hands each subscriber those for the files it tracks.
// Threads: everything here is touched under _sync, held for syscalls and dictionary
// updates only; a subscriber's poll drains the descriptor for everybody.
using System.Runtime.InteropServices;

namespace Giftwrap.Tables;

internal sealed partial class InotifyHub
{
    private const uint InModify = 0x2, InAttrib = 0x4, InCloseWrite = 0x8, InMovedFrom = 0x40, InMovedTo = 0x80,
        InCreate = 0x100, InDelete = 0x200, InDeleteSelf = 0x400, InMoveSelf = 0x800, InQOverflow = 0x4000, InIgnored = 0x8000;

    private const uint WatchMask = InModify | InAttrib | InCloseWrite | InMovedFrom | InMovedTo | InCreate | InDelete | InDeleteSelf | InMoveSelf;

    private static readonly Lazy<InotifyHub> LazyShared = new(() => new InotifyHub(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly Lock _sync = new();
    private readonly int _fd;
    private readonly Dictionary<int, string> _dirByWatch = [];
    private readonly Dictionary<string, int> _watchByDir = new(StringComparer.Ordinal);
    // Per directory, the subscribers that track names in it.
    private readonly Dictionary<string, HashSet<ChangeMonitor>> _subscribersByDir = new(StringComparer.Ordinal);
    private readonly byte[] _buffer = new byte[8192];

    private InotifyHub()
    {
        try
        {
            _fd = OperatingSystem.IsLinux() ? inotify_init1(0x800 /*IN_NONBLOCK*/ | 0x80000 /*IN_CLOEXEC*/) : -1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            _fd = -1;
        }
    }

    /// <summary>The process's hub (its descriptor lives as long as the process).</summary>
    public static InotifyHub Shared => LazyShared.Value;

    public bool Available => _fd >= 0;

    /// <summary>Watches <paramref name="dir"/> for <paramref name="subscriber"/>; false when it cannot be watched.</summary>
    public bool Watch(ChangeMonitor subscriber, string dir)
    {
        if (_fd < 0)
            return false;
        lock (_sync)
        {
            if (!_watchByDir.ContainsKey(dir))
            {
                var wd = inotify_add_watch(_fd, dir, WatchMask);
                if (wd < 0)
                    return false;
                _watchByDir[dir] = wd;
                _dirByWatch[wd] = dir;
            }
            if (!_subscribersByDir.TryGetValue(dir, out var subs))
                _subscribersByDir[dir] = subs = [];
            subs.Add(subscriber);
            return true;
        }
    }

    /// <summary>Forgets <paramref name="subscriber"/>; a directory nobody tracks any more is no longer watched.</summary>
    public void Unsubscribe(ChangeMonitor subscriber)
    {
        lock (_sync)
        {
            foreach (var (dir, subs) in _subscribersByDir.ToList())
            {
                if (!subs.Remove(subscriber) || subs.Count > 0)
                    continue;
                _subscribersByDir.Remove(dir);
                if (_watchByDir.Remove(dir, out var wd))
                {
                    _dirByWatch.Remove(wd);
                    _ = inotify_rm_watch(_fd, wd);
                }
            }
        }
    }

    /// <summary>Reads every pending event and hands each to the subscribers of its directory.</summary>
    public unsafe void Drain()
    {
        if (_fd < 0)
            return;
        lock (_sync)
        {
            fixed (byte* buf = _buffer)
            {
                while (true)
                {
                    var n = (int)read(_fd, buf, (nuint)_buffer.Length);
                    if (n <= 0)
                        break;
                    for (var off = 0; off + 16 <= n;)
                    {
                        var wd = *(int*)(buf + off);
                        var mask = *(uint*)(buf + off + 4);
                        var len = *(int*)(buf + off + 12);
                        var nameLen = new ReadOnlySpan<byte>(buf + off + 16, len).IndexOf((byte)0);
                        var name = System.Text.Encoding.UTF8.GetString(buf + off + 16, nameLen < 0 ? len : nameLen);
                        off += 16 + len;
                        Dispatch(wd, mask, name);
                    }
                }
            }
        }
    }

    private void Dispatch(int wd, uint mask, string name)
    {
        if ((mask & InQOverflow) != 0)
        {
            // Events were lost: every subscriber checks everything.
            foreach (var subs in _subscribersByDir.Values)
            {
                foreach (var s in subs)
                    s.Changed(null);
            }
            return;
        }
        if (!_dirByWatch.TryGetValue(wd, out var dir) || !_subscribersByDir.TryGetValue(dir, out var subscribers))
            return;
        if ((mask & (InIgnored | InDeleteSelf | InMoveSelf)) != 0)
        {
            foreach (var s in subscribers)
                s.Changed(null);
            if ((mask & InIgnored) != 0)
                Rewatch(wd, dir);
            return;
        }
        foreach (var s in subscribers)
            s.Changed(Path.Combine(dir, name));
    }

    // The directory went away (or was replaced): watch it again if it is there, else its subscribers poll.
    private void Rewatch(int wd, string dir)
    {
        _dirByWatch.Remove(wd);
        _watchByDir.Remove(dir);
        var again = inotify_add_watch(_fd, dir, WatchMask);
        if (again >= 0)
        {
            _watchByDir[dir] = again;
            _dirByWatch[again] = dir;
            return;
        }
        if (_subscribersByDir.Remove(dir, out var subs))
        {
            foreach (var s in subs)
                s.Unwatched(dir);
        }
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int inotify_rm_watch(int fd, int wd);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nuint count);
}
