// The local ban store: the public face. Lookups (Find) read an in-memory index; every
// change goes through the journal first (append + fsync under the writers' flock) and
// reaches memory by reading the journal back, the same path that brings other processes'
// changes in, so every process applies the same records in the same order.
// SECURITY: protected addresses (loopback always, [bans] protect) are refused on every
// entry point, local or remote. A damaged store is reported and what was readable kept:
// damage never lifts bans wholesale. Not here: the fleet (Redis), the gate's use of bans.
using System.Net;
using Giftwrap.Bans.Storage;

namespace Giftwrap.Bans;

/// <summary>A durable ban list shared by the processes of one host (CLI, gates) through a directory.</summary>
public sealed partial class BanStore : IDisposable
{
    private readonly object _sync = new();
    private readonly ReaderWriterLockSlim _rw = new(LockRecursionPolicy.NoRecursion);
    private readonly List<StoreProblem> _problems = [];
    private readonly IReadOnlyList<BanTarget> _protected;
    private BanTable _table = new();
    private Timer? _timer;
    private bool _disposed;

    private BanStore(BanOptions options)
    {
        Options = options;
        _protected = [.. options.ProtectLoopback ? BanOptions.AlwaysProtected : [], .. options.Protect];
        Directory = options.Store;
        JournalPath = Path.Combine(Directory, "journal");
        SnapshotPath = Path.Combine(Directory, "snapshot");
        LockPath = Path.Combine(Directory, "lock");
    }

    public BanOptions Options { get; }

    public string Directory { get; }

    public string JournalPath { get; }

    public string SnapshotPath { get; }

    public string LockPath { get; }

    /// <summary>A ban or unban was applied: by this store, read from another process's journal records, or applied from a remote host.</summary>
    public event EventHandler<BanChangedEventArgs>? Changed;

    /// <summary>A problem with the store's files was found (also kept in <see cref="Problems"/>).</summary>
    public event EventHandler<StoreProblem>? ProblemFound;

    /// <summary>Problems found so far (damaged lines, unreadable files), each with its file and line.</summary>
    public IReadOnlyList<StoreProblem> Problems
    {
        get
        {
            lock (_problems)
                return [.. _problems];
        }
    }

    /// <summary>Entries held (active bans and the history kept for escalation).</summary>
    public int Count
    {
        get
        {
            _rw.EnterReadLock();
            try
            {
                return _table.Count;
            }
            finally
            {
                _rw.ExitReadLock();
            }
        }
    }

    /// <summary>
    /// Opens (creating when needed) the store in <see cref="BanOptions.Store"/>. With
    /// <paramref name="watch"/> the store follows the journal, so other processes' changes
    /// are seen within <see cref="BanOptions.PollInterval"/>, and it keeps hosts.deny in step with expiry.
    /// </summary>
    public static BanStore Open(BanOptions options, bool watch = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        var store = new BanStore(options);
        store.Initialise();
        if (watch)
            store._timer = new Timer(_ => store.Poll(), null, options.PollInterval, options.PollInterval);
        return store;
    }

    /// <summary>The active ban that covers <paramref name="address"/> for <paramref name="daemon"/> at <paramref name="now"/>, or null.</summary>
    public BanEntry? Find(IPAddress address, string daemon, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(address);
        var bits = BanTarget.ToBits(address);
        var v4 = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork || address.IsIPv4MappedToIPv6;
        _rw.EnterReadLock();
        try
        {
            return _table.Find(bits, v4, daemon ?? "", now.ToUnixTimeMilliseconds());
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>The active bans at <paramref name="now"/>, ordered by address.</summary>
    public IReadOnlyList<BanEntry> List(DateTimeOffset now)
    {
        _rw.EnterReadLock();
        try
        {
            return [.. _table.All().Where(e => e.IsActive(now)).OrderBy(e => e.Target.Bits).ThenBy(e => e.Target.Prefix)];
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>How many bans are active at <paramref name="now"/> (what <see cref="List"/> would hold), counted without listing them.</summary>
    public int CountActive(DateTimeOffset now)
    {
        _rw.EnterReadLock();
        try
        {
            return _table.CountActive(now.ToUnixTimeMilliseconds());
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>The entry for exactly <paramref name="target"/>, active or kept as history; null when none.</summary>
    public BanEntry? Get(BanTarget target)
    {
        _rw.EnterReadLock();
        try
        {
            return _table.TryGet(target, out var e) ? e : null;
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>The protected range that <paramref name="target"/> overlaps, or null when it may be banned.</summary>
    public BanTarget? ProtectedBy(BanTarget target)
    {
        foreach (var p in _protected)
        {
            if (p.Overlaps(target))
                return p;
        }
        return null;
    }

    /// <summary>Bans a target (escalating a repeat offender); returns once the ban is on disk.</summary>
    public BanResult Ban(BanRequest request) => BanMany([request])[0];

    /// <summary>
    /// Bans many targets with one journal write and one fsync (bulk imports, a fleet's full list).
    /// Results come in the order of the requests.
    /// </summary>
    public IReadOnlyList<BanResult> BanMany(IEnumerable<BanRequest> requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        return WriteLocked(() => DecideBans([.. requests]));
    }

    /// <summary>Ends the active ban on exactly <paramref name="target"/>. The offence count is kept, so a later ban still escalates.</summary>
    public BanResult Unban(BanTarget target) => UnbanMany([target])[0];

    /// <summary>
    /// Ends the active bans on many targets with one journal write and one fsync (a feed's
    /// deletions). Results come in the order of the targets.
    /// </summary>
    public IReadOnlyList<BanResult> UnbanMany(IEnumerable<BanTarget> targets)
    {
        ArgumentNullException.ThrowIfNull(targets);
        var list = targets.ToList();
        return WriteLocked(() =>
        {
            var now = Now();
            var results = new List<BanResult>(list.Count);
            var changes = new List<BanChange>();
            var done = new HashSet<BanTarget>();
            foreach (var target in list)
            {
                if (!_table.TryGet(target, out var e) || !e.IsActive(now) || !done.Add(target))
                {
                    results.Add(new BanResult(BanOutcome.NotBanned, null, $"{target} is not banned"));
                    continue;
                }
                changes.Add(new BanChange { Kind = BanChangeKind.Unbanned, Target = target, At = now, Origin = Options.Origin });
                results.Add(new BanResult(BanOutcome.Unbanned, e with { Expires = now }, $"unbanned {target}"));
            }
            return (results, changes);
        });
    }

    /// <summary>
    /// Applies a change made on another host (the entry point of a fleet layer). Protected
    /// addresses are refused here too: the receiver does not trust the sender. A change
    /// older than what is known for the target is ignored (<see cref="BanOutcome.Stale"/>).
    /// The change is journaled, and reported by <see cref="Changed"/> with IsRemote set.
    /// </summary>
    public BanResult ApplyRemote(BanChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        return WriteLocked(() => DecideRemote(change))[0];
    }

    /// <summary>
    /// Applies changes made on other hosts, as <see cref="ApplyRemote"/> does one, with one journal write
    /// and one fsync (a fleet's first pull of its whole list). The targets must be distinct: each change is
    /// weighed against the store as it was before the call. Results come in the order of the changes.
    /// </summary>
    internal IReadOnlyList<BanResult> ApplyRemoteMany(IReadOnlyList<BanChange> changes) => WriteLocked(() =>
    {
        var results = new List<BanResult>(changes.Count);
        var applied = new List<BanChange>();
        foreach (var change in changes)
        {
            var (result, made) = DecideRemote(change);
            results.Add(result[0]);
            applied.AddRange(made);
        }
        return (results, applied);
    });

    /// <summary>Reads what other processes wrote since the last look (a watching store does this by itself).</summary>
    public void Refresh()
    {
        lock (_sync)
            CatchUp(locked: false);
    }

    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed)
                return;
            _disposed = true;
            _timer?.Dispose();
            CloseJournal();
        }
    }

    private DateTimeOffset Now() => DateTimeOffset.FromUnixTimeMilliseconds(Options.Time.GetUtcNow().ToUnixTimeMilliseconds());

    private void Report(string file, int line, string message)
    {
        var p = new StoreProblem(file, line, message);
        lock (_problems)
        {
            // A problem that persists (an unreadable file seen on every poll) is reported once.
            if (_problems.Contains(p))
                return;
            _problems.Add(p);
        }
        ProblemFound?.Invoke(this, p);
    }

    private void Raise(BanChange change, bool fromThisStore) =>
        Changed?.Invoke(this, new BanChangedEventArgs(change, fromThisStore));
}
