// One live AccessTables' view of its files: which paths it tracks (the two tables and
// every /file list they name, registered when they are compiled), and a version that
// moves when one of them may have changed. TableWatcher, the one owner of inotify,
// queues the events here; where a directory cannot be watched, its files are stat()ed
// on every refresh instead. The kernel queues an event inside the write or rename call,
// and a refresh hands over every queued event, so a change completed before a decision
// is seen by it.
// Threads: Changed and Refresh from any decision (lock-free queues and counters);
// Track and TakeChanges only from the one caller that compiles (AccessTables' reload).
using System.Collections.Concurrent;

namespace Giftwrap.Tables;

internal sealed class ChangeMonitor : IDisposable
{
    private readonly TableWatcher _hub;
    private readonly ConcurrentDictionary<string, byte> _tracked = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (bool Exists, long Length, DateTime Written)> _polled = new(StringComparer.Ordinal);
    // A path that may have changed; null: anything may have (events lost, a directory gone).
    private readonly ConcurrentQueue<string?> _changes = new();
    private readonly ConcurrentQueue<(string Dir, int Watch)> _lost = new();
    private long _version;
    private int _disposed;
    // Set once a file is polled: ConcurrentDictionary.IsEmpty takes every lock when it is empty.
    private volatile bool _polling;

    public ChangeMonitor()
        : this(TableWatcher.Shared)
    {
    }

    internal ChangeMonitor(TableWatcher hub) => _hub = hub;

    /// <summary>The paths watched so far (a copy).</summary>
    public IReadOnlyCollection<string> Tracked => [.. _tracked.Keys];

    /// <summary>Moves each time a tracked path may have changed; changes are queued before it moves.</summary>
    public long Version => Volatile.Read(ref _version);

    /// <summary>
    /// Starts watching <paramref name="path"/> (and, for a symbolic link, what it points to); returns every
    /// path it depends on. Called by the one caller that compiles, before it reads the file, so that a change
    /// made after the read is always seen.
    /// </summary>
    public string[] Track(string path)
    {
        path = Path.GetFullPath(path);
        var deps = new List<string>(1);
        while (deps.Count < 40 && !deps.Contains(path))
        {
            deps.Add(path);
            if (Volatile.Read(ref _disposed) == 0 && _tracked.TryAdd(path, 0) && !_hub.Watch(this, Path.GetDirectoryName(path) ?? "/"))
                Poll(path);
            try
            {
                var target = new FileInfo(path).ResolveLinkTarget(returnFinalTarget: true);
                if (target is null)
                    break;
                path = target.FullName;
            }
            catch (IOException)
            {
                // A dangling or looping link: the link itself is watched, which is what fopen() follows.
                break;
            }
        }
        return [.. deps];
    }

    /// <summary>From the watcher: <paramref name="path"/> may have changed; null: anything may have.</summary>
    internal void Changed(string? path)
    {
        if (path is not null && !_tracked.ContainsKey(path))
            return;
        _changes.Enqueue(path);
        Interlocked.Increment(ref _version);
    }

    /// <summary>From the watcher: the kernel dropped the watch on <paramref name="dir"/>; it is watched again (or polled) at the next reload.</summary>
    internal void Lost(string dir, int watch)
    {
        _lost.Enqueue((dir, watch));
        Changed(null);
    }

    /// <summary>
    /// Brings <see cref="Version"/> up to date with every change completed before this call. False, without
    /// waiting, when <paramref name="wait"/> is false and another caller holds events it is handing over.
    /// </summary>
    public bool Refresh(bool wait)
    {
        if (!_hub.Drain(wait))
            return false;
        if (!_polling)
            return true;
        foreach (var (path, stamp) in _polled)
        {
            var now = Stamp(path);
            // Of several callers that see the same change, the one whose update wins reports it.
            if (now != stamp && _polled.TryUpdate(path, now, stamp))
                Changed(path);
        }
        return true;
    }

    /// <summary>
    /// For the one caller that compiles: the tracked paths that may have changed since the last call;
    /// <paramref name="all"/> is set when events were lost or a directory went away, and everything must be checked.
    /// </summary>
    public HashSet<string>? TakeChanges(out bool all)
    {
        all = false;
        while (_lost.TryDequeue(out var lost))
        {
            if (_hub.Rewatch(this, lost.Dir, lost.Watch))
                continue;
            foreach (var path in _tracked.Keys)
            {
                if ((Path.GetDirectoryName(path) ?? "/") == lost.Dir)
                    Poll(path);
            }
        }
        HashSet<string>? changed = null;
        while (_changes.TryDequeue(out var path))
        {
            if (path is null)
                all = true;
            else
                (changed ??= new HashSet<string>(StringComparer.Ordinal)).Add(path);
        }
        return all ? new HashSet<string>(_tracked.Keys, StringComparer.Ordinal) : changed;
    }

    private void Poll(string path)
    {
        _polled[path] = Stamp(path);
        _polling = true;
    }

    private static (bool, long, DateTime) Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (true, info.Length, info.LastWriteTimeUtc) : (false, 0, default);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            _hub.Unsubscribe(this);
    }
}
