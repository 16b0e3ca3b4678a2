// The process's one watcher of table files: the only code that holds an inotify
// descriptor, for every live AccessTables (each a ChangeMonitor subscribed here). A
// gate that reloads a thousand times still holds one instance (the host-wide limit is
// 128 per user by default) and one watch per directory.
// Threads: registration (a table compiled, a table released, a lost directory watched
// again) is serialised by _registry and publishes a new immutable Routes; the decision
// path never takes that lock. It asks the kernel whether events wait (FIONREAD); when
// they do, one caller reads them and hands each to its subscribers' lock-free queues,
// and a caller that finds another one doing so waits the microseconds that takes (the
// events it must see may be in that caller's hands), never for a recompile.
using Giftwrap.Interop;

namespace Giftwrap.Tables;

internal sealed class TableWatcher
{
    private const uint WatchMask = Libc.InModify | Libc.InAttrib | Libc.InCloseWrite | Libc.InMovedFrom | Libc.InMovedTo
        | Libc.InCreate | Libc.InDelete | Libc.InDeleteSelf | Libc.InMoveSelf;

    private static readonly Lazy<TableWatcher> LazyShared = new(() => new TableWatcher(), LazyThreadSafetyMode.ExecutionAndPublication);

    private readonly int _fd;
    private readonly Lock _registry = new();
    private Routes _routes = Routes.Empty;
    private readonly byte[] _buffer = new byte[8192];
    // 1 while a caller reads events and hands them over; _passes counts the hand-overs completed.
    private int _draining;
    private long _passes;

    // Who hears about what; never changed once published (a registration publishes a new one).
    private sealed record Routes(Dictionary<int, string> DirByWatch, Dictionary<string, int> WatchByDir, Dictionary<string, ChangeMonitor[]> SubscribersByDir)
    {
        public static readonly Routes Empty = new([], new(StringComparer.Ordinal), new(StringComparer.Ordinal));

        public Routes Copy() => new(new(DirByWatch), new(WatchByDir, StringComparer.Ordinal), new(SubscribersByDir, StringComparer.Ordinal));
    }

    private TableWatcher()
    {
        try
        {
            _fd = OperatingSystem.IsLinux() ? Libc.inotify_init1(Libc.InNonBlock | Libc.InCloExec) : -1;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            _fd = -1;
        }
    }

    /// <summary>The process's watcher (its descriptor lives as long as the process).</summary>
    public static TableWatcher Shared => LazyShared.Value;

    /// <summary>Watches <paramref name="dir"/> for <paramref name="subscriber"/>; false when it cannot be watched.</summary>
    public bool Watch(ChangeMonitor subscriber, string dir)
    {
        if (_fd < 0)
            return false;
        lock (_registry)
        {
            var routes = _routes;
            if (routes.SubscribersByDir.TryGetValue(dir, out var subs) && subs.Contains(subscriber))
                return true;
            routes = routes.Copy();
            if (!routes.WatchByDir.ContainsKey(dir))
            {
                var wd = Libc.inotify_add_watch(_fd, dir, WatchMask);
                if (wd < 0)
                    return false;
                routes.WatchByDir[dir] = wd;
                routes.DirByWatch[wd] = dir;
            }
            routes.SubscribersByDir[dir] = subs is null ? [subscriber] : [.. subs, subscriber];
            Volatile.Write(ref _routes, routes);
            return true;
        }
    }

    /// <summary>
    /// After the kernel dropped the watch <paramref name="lostWatch"/> on <paramref name="dir"/> (the directory
    /// went away or was replaced): watches it again for <paramref name="subscriber"/>; false when it cannot be.
    /// </summary>
    public bool Rewatch(ChangeMonitor subscriber, string dir, int lostWatch)
    {
        if (_fd < 0)
            return false;
        lock (_registry)
        {
            var routes = _routes.Copy();
            if (routes.WatchByDir.TryGetValue(dir, out var wd) && wd == lostWatch)
            {
                routes.WatchByDir.Remove(dir);
                routes.DirByWatch.Remove(wd);
            }
            if (routes.SubscribersByDir.TryGetValue(dir, out var subs))
            {
                subs = Array.FindAll(subs, s => s != subscriber);
                if (subs.Length == 0)
                    routes.SubscribersByDir.Remove(dir);
                else
                    routes.SubscribersByDir[dir] = subs;
            }
            Volatile.Write(ref _routes, routes);
        }
        return Watch(subscriber, dir);
    }

    /// <summary>Forgets <paramref name="subscriber"/>; a directory nobody tracks any more is no longer watched.</summary>
    public void Unsubscribe(ChangeMonitor subscriber)
    {
        lock (_registry)
        {
            var routes = _routes.Copy();
            foreach (var (dir, subs) in _routes.SubscribersByDir)
            {
                if (!subs.Contains(subscriber))
                    continue;
                var rest = Array.FindAll(subs, s => s != subscriber);
                if (rest.Length > 0)
                {
                    routes.SubscribersByDir[dir] = rest;
                    continue;
                }
                routes.SubscribersByDir.Remove(dir);
                if (routes.WatchByDir.Remove(dir, out var wd))
                {
                    routes.DirByWatch.Remove(wd);
                    _ = Libc.inotify_rm_watch(_fd, wd);
                }
            }
            Volatile.Write(ref _routes, routes);
        }
    }

    /// <summary>
    /// Hands every event the kernel queued before this call to its subscribers. Returns false, without
    /// waiting, when <paramref name="wait"/> is false and another caller is handing events over.
    /// </summary>
    public unsafe bool Drain(bool wait = true)
    {
        if (_fd < 0)
            return true;
        // Nothing queued and nobody holding events read from the queue: the common case, no write at all.
        // In this order: an event read before our FIONREAD is in the hands of a caller that set _draining first.
        int queued;
        if (Libc.ioctl(_fd, Libc.FionRead, &queued) == 0 && queued == 0 && Volatile.Read(ref _draining) == 0)
            return true;
        var seen = Volatile.Read(ref _passes);
        var spin = new SpinWait();
        while (true)
        {
            if (Interlocked.CompareExchange(ref _draining, 1, 0) == 0)
            {
                try
                {
                    ReadAll();
                }
                finally
                {
                    Interlocked.Increment(ref _passes);
                    Volatile.Write(ref _draining, 0);
                }
                return true;
            }
            // A pass that began after this call did read what was queued before it.
            if (Volatile.Read(ref _passes) >= seen + 2)
                return true;
            if (!wait)
                return false;
            spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    private unsafe void ReadAll()
    {
        fixed (byte* buf = _buffer)
        {
            while (true)
            {
                var n = (int)Libc.read(_fd, buf, (nuint)_buffer.Length);
                if (n <= 0)
                    break;
                var routes = Volatile.Read(ref _routes);
                var header = sizeof(InotifyEvent);
                for (var off = 0; off + header <= n;)
                {
                    var e = (InotifyEvent*)(buf + off);
                    var len = (int)e->Len;
                    var nameLen = new ReadOnlySpan<byte>(buf + off + header, len).IndexOf((byte)0);
                    var name = System.Text.Encoding.UTF8.GetString(buf + off + header, nameLen < 0 ? len : nameLen);
                    var (wd, mask) = (e->Wd, e->Mask);
                    off += header + len;
                    Dispatch(routes, wd, mask, name);
                }
            }
        }
    }

    private static void Dispatch(Routes routes, int wd, uint mask, string name)
    {
        if ((mask & Libc.InQOverflow) != 0)
        {
            // Events were lost: every subscriber checks everything.
            foreach (var subs in routes.SubscribersByDir.Values)
            {
                foreach (var s in subs)
                    s.Changed(null);
            }
            return;
        }
        if (!routes.DirByWatch.TryGetValue(wd, out var dir) || !routes.SubscribersByDir.TryGetValue(dir, out var subscribers))
            return;
        if ((mask & Libc.InIgnored) != 0)
        {
            // The directory went away or was replaced: its subscribers check everything and watch it
            // again when they next reload (registration is not done on the decision path).
            foreach (var s in subscribers)
                s.Lost(dir, wd);
            return;
        }
        if ((mask & (Libc.InDeleteSelf | Libc.InMoveSelf)) != 0)
        {
            foreach (var s in subscribers)
                s.Changed(null);
            return;
        }
        var path = Path.Combine(dir, name);
        foreach (var s in subscribers)
            s.Changed(path);
    }
}
