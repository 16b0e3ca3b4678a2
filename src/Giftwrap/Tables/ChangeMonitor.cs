// Tells AccessTables, cheaply and before every decision, which watched files may
// have changed. On Linux the process's one inotify instance (InotifyHub) watches the
// files' directories and hands this monitor the events for its files: the kernel
// queues an event inside the write or rename call, so a change completed before a
// decision is always seen by it. Where inotify is unavailable (or a directory cannot
// be watched), each such file is stat()ed on every poll instead.
// Threads: Track is called by whichever loop first evaluates a /file pattern, Poll by the
// table owner. Lock order: the hub's lock, then this monitor's _pending lock (a leaf);
// _sync (the tracked files) is never held while calling the hub, so none can deadlock.
namespace Giftwrap.Tables;

internal sealed class ChangeMonitor : IDisposable
{
    private readonly InotifyHub _hub;
    private readonly Lock _sync = new();
    private readonly HashSet<string> _tracked = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (bool Exists, long Length, DateTime Written)> _polled = new(StringComparer.Ordinal);
    private readonly Lock _pendingLock = new();
    private HashSet<string>? _pending;
    private List<string>? _unwatched;
    private bool _all;
    private bool _disposed;

    public ChangeMonitor()
        : this(InotifyHub.Shared)
    {
    }

    internal ChangeMonitor(InotifyHub hub) => _hub = hub;

    public bool UsesInotify => _hub.Available;

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
                if (_disposed || !_tracked.Add(path))
                    return;
            }
            if (!_hub.Watch(this, Path.GetDirectoryName(path) ?? "/"))
            {
                lock (_sync)
                    _polled[path] = Stamp(path);
            }
            // The link is resolved outside the locks (it reads the file system); its target is tracked in turn.
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

    /// <summary>From the hub (under its lock): <paramref name="path"/> may have changed; null: anything may have.</summary>
    internal void Changed(string? path)
    {
        lock (_pendingLock)
        {
            if (path is null)
                _all = true;
            else
                (_pending ??= new HashSet<string>(StringComparer.Ordinal)).Add(path);
        }
    }

    /// <summary>From the hub (under its lock): <paramref name="dir"/> can no longer be watched; its files are polled.</summary>
    internal void Unwatched(string dir)
    {
        lock (_pendingLock)
        {
            (_unwatched ??= []).Add(dir);
            _all = true;
        }
    }

    /// <summary>
    /// Returns the tracked paths that may have changed since the last poll; <paramref name="all"/>
    /// is set when events were lost or a directory went away, and everything must be checked.
    /// </summary>
    public List<string>? Poll(out bool all)
    {
        _hub.Drain();
        HashSet<string>? pending;
        List<string>? unwatched;
        lock (_pendingLock)
        {
            pending = _pending;
            unwatched = _unwatched;
            all = _all;
            _pending = null;
            _unwatched = null;
            _all = false;
        }
        lock (_sync)
        {
            foreach (var dir in unwatched ?? [])
            {
                foreach (var path in _tracked.Where(p => (Path.GetDirectoryName(p) ?? "/") == dir))
                    _polled[path] = Stamp(path);
            }
            List<string>? changed = pending?.Where(_tracked.Contains).ToList();
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
                return [.. _tracked];
            return changed is { Count: > 0 } ? changed : null;
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
            if (_disposed)
                return;
            _disposed = true;
        }
        _hub.Unsubscribe(this);
    }
}
