// Tells AccessTables, cheaply and before every decision, which watched files may
// have changed. On Linux one non-blocking read of an inotify descriptor that
// watches the files' directories: the kernel queues the event inside the write or
// rename call, so a change completed before a decision is always seen by it.
// Where inotify is unavailable, each file is stat()ed on every poll instead.
// Threads: Track is called by whichever loop first evaluates a /file pattern, Poll by the
// table owner; every piece of state below is touched only under _sync, held for a
// syscall or a dictionary update (never for a read of a file's contents), so a
// concurrent first use cannot corrupt it.
using System.Runtime.InteropServices;

namespace Giftwrap.Tables;

internal sealed partial class ChangeMonitor : IDisposable
{
    private const uint InModify = 0x2, InAttrib = 0x4, InCloseWrite = 0x8, InMovedFrom = 0x40, InMovedTo = 0x80,
        InCreate = 0x100, InDelete = 0x200, InDeleteSelf = 0x400, InMoveSelf = 0x800, InQOverflow = 0x4000, InIgnored = 0x8000;

    private const uint WatchMask = InModify | InAttrib | InCloseWrite | InMovedFrom | InMovedTo | InCreate | InDelete | InDeleteSelf | InMoveSelf;

    private readonly Lock _sync = new();
    private readonly int _fd;
    private readonly Dictionary<int, string> _dirByWatch = [];
    private readonly Dictionary<string, int> _watchByDir = new(StringComparer.Ordinal);
    private readonly Dictionary<string, HashSet<string>> _namesByDir = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (bool Exists, long Length, DateTime Written)> _polled = new(StringComparer.Ordinal);
    private readonly HashSet<string> _tracked = new(StringComparer.Ordinal);
    private readonly byte[] _buffer = new byte[8192];

    public ChangeMonitor()
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

    public bool UsesInotify => _fd >= 0;

    /// <summary>The paths watched so far (a copy).</summary>
    public IReadOnlyCollection<string> Tracked
    {
        get
        {
            lock (_sync)
                return [.. _tracked];
        }
    }

    /// <summary>Starts watching <paramref name="path"/> (and, for a symbolic link, what it points to). Safe from any thread.</summary>
    public void Track(string path)
    {
        path = Path.GetFullPath(path);
        while (true)
        {
            lock (_sync)
            {
                if (!_tracked.Add(path))
                    return;
                if (!Watch(path))
                    _polled[path] = Stamp(path);
            }
            // The link is resolved outside the lock (it reads the file system); its target is tracked in turn.
            try
            {
                var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
                if (target is null)
                    return;
                path = target.FullName;
            }
            catch (IOException)
            {
                // A dangling or looping link: the link itself is watched, which is what fopen() follows.
                return;
            }
        }
    }

    private bool Watch(string path)
    {
        if (_fd < 0 || _disposed)
            return false;
        var dir = Path.GetDirectoryName(path) ?? "/";
        var name = Path.GetFileName(path);
        if (!_watchByDir.ContainsKey(dir))
        {
            var wd = inotify_add_watch(_fd, dir, WatchMask);
            if (wd < 0)
                return false;
            _watchByDir[dir] = wd;
            _dirByWatch[wd] = dir;
        }
        if (!_namesByDir.TryGetValue(dir, out var names))
            _namesByDir[dir] = names = new HashSet<string>(StringComparer.Ordinal);
        names.Add(name);
        return true;
    }

    /// <summary>
    /// Drains pending events. Returns the tracked paths that may have changed; <paramref name="all"/>
    /// is set when events were lost or a directory went away, and everything must be checked.
    /// </summary>
    public List<string>? Poll(out bool all)
    {
        lock (_sync)
            return PollLocked(out all);
    }

    private unsafe List<string>? PollLocked(out bool all)
    {
        all = false;
        List<string>? changed = null;
        if (_fd >= 0 && !_disposed)
        {
            fixed (byte* buf = _buffer)
            {
                while (true)
                {
                    var n = (int)read(_fd, buf, (nuint)_buffer.Length);
                    if (n <= 0)
                        break;
                    var off = 0;
                    while (off + 16 <= n)
                    {
                        var wd = *(int*)(buf + off);
                        var mask = *(uint*)(buf + off + 4);
                        var len = *(int*)(buf + off + 12);
                        var nameLen = new ReadOnlySpan<byte>(buf + off + 16, len).IndexOf((byte)0);
                        var name = System.Text.Encoding.UTF8.GetString(buf + off + 16, nameLen < 0 ? len : nameLen);
                        off += 16 + len;
                        if ((mask & (InQOverflow | InIgnored | InDeleteSelf | InMoveSelf)) != 0)
                        {
                            all = true;
                            if ((mask & InIgnored) != 0 && _dirByWatch.Remove(wd, out var gone))
                                Rewatch(gone);
                            continue;
                        }
                        if (_dirByWatch.TryGetValue(wd, out var dir) && _namesByDir.TryGetValue(dir, out var names) && names.Contains(name))
                            (changed ??= []).Add(Path.Combine(dir, name));
                    }
                }
            }
        }
        foreach (var (path, stamp) in _polled)
        {
            var now = Stamp(path);
            if (now != stamp)
            {
                _polled[path] = now;
                (changed ??= []).Add(path);
            }
        }
        if (all)
            changed = [.. _tracked];
        return changed;
    }

    private void Rewatch(string dir)
    {
        _watchByDir.Remove(dir);
        if (!_namesByDir.Remove(dir, out var names))
            return;
        foreach (var name in names)
        {
            var path = Path.Combine(dir, name);
            if (!Watch(path))
                _polled[path] = Stamp(path);
        }
    }

    private static (bool, long, DateTime) Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (true, info.Length, info.LastWriteTimeUtc) : (false, 0, default);
    }

    public void Dispose()
    {
        lock (_sync)
        {
            if (_fd >= 0 && !_disposed)
                _ = close(_fd);
            _disposed = true;
        }
    }

    private bool _disposed;

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static unsafe partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int close(int fd);
}
