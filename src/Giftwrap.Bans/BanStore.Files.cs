// The store's files in DIR: `snapshot` (the compacted list), `journal` (records since
// the snapshot; its header names the snapshot generation it follows) and `lock` (the
// writers' flock). Writers append and fsync under the lock; readers tail the journal
// and reload when the journal file is replaced by a compaction (a new inode). A damaged
// line is reported with its file and line and skipped; the rest is kept (fail closed).
using System.Buffers;
using System.Text;
using Giftwrap.Bans.Storage;
using Microsoft.Win32.SafeHandles;

namespace Giftwrap.Bans;

public sealed partial class BanStore
{
    private const int ChunkBytes = 4 << 20;
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);

    private SafeFileHandle? _journal;
    private ulong _journalInode;
    private long _position;
    private int _lineNo;
    private long _journalGen;
    private long _snapshotGen;
    private long _ownUntil;
    private bool _damaged;
    private long _nextExpiryMs = long.MaxValue;

    /// <summary>The journal size past which a writer compacts it into the snapshot (plus half the snapshot's size).</summary>
    internal long CompactThreshold { get; set; } = 1 << 20;

    private void Initialise()
    {
        lock (_sync)
        {
            try
            {
                System.IO.Directory.CreateDirectory(Directory);
                using var l = StoreLock.Acquire(LockPath, LockTimeout);
                EnsureJournal();
                Load(raise: false);
                SyncHostsDeny();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A reader without write access (or a store on a read-only mount) still enforces what is on disk.
                Report(Directory, 0, $"opened without the writers' lock: {ex.Message}");
                Load(raise: false);
            }
        }
    }

    private IReadOnlyList<BanResult> WriteLocked(Func<(IReadOnlyList<BanResult>, List<BanChange>)> decide)
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            System.IO.Directory.CreateDirectory(Directory);
            using var l = StoreLock.Acquire(LockPath, LockTimeout);
            EnsureJournal();
            CatchUp(locked: true);
            var (results, changes) = decide();
            if (changes.Count == 0)
                return results;
            _ownUntil = Append(changes);
            if (!Tail(_table, live: true))
                Load(raise: true);
            if (_journal is not null && RandomAccess.GetLength(_journal) > CompactThreshold + FileLength(SnapshotPath) / 2)
                Compact();
            SyncHostsDeny();
            return results;
        }
    }

    private void Poll()
    {
        if (!Monitor.TryEnter(_sync))
            return; // a write or a slow reload is under way; the next tick looks again
        try
        {
            if (_disposed)
                return;
            CatchUp(locked: false);
            if (Options.HostsDeny is not null && Options.Time.GetUtcNow().ToUnixTimeMilliseconds() >= _nextExpiryMs)
            {
                using var l = StoreLock.Acquire(LockPath, LockTimeout);
                SyncHostsDeny();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Fail closed: the bans already known stay in force until the files can be read again.
            Report(JournalPath, 0, $"cannot read the journal ({ex.Message}); the bans already known stay in force");
        }
        finally
        {
            Monitor.Exit(_sync);
        }
    }

    private void CatchUp(bool locked)
    {
        var inode = Native.Inode(JournalPath);
        if (inode == 0)
            return; // no journal (yet, or removed by hand): keep what is known
        if (_journal is not null && inode == _journalInode && Tail(_table, live: true))
            return;
        if (locked)
        {
            Load(raise: true);
            return;
        }
        try
        {
            using var l = StoreLock.Acquire(LockPath, LockTimeout);
            Load(raise: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Without the lock a compaction may be half done; Load checks the generations and the next poll retries.
            Load(raise: true);
        }
    }

    /// <summary>Reads the snapshot and the journal into a new table and swaps it in; with <paramref name="raise"/>, reports the differences as changes.</summary>
    private void Load(bool raise)
    {
        var table = new BanTable();
        _damaged = false;
        _snapshotGen = ReadSnapshot(table);
        CloseJournal();
        if (File.Exists(JournalPath))
        {
            _journal = File.OpenHandle(JournalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            _journalInode = Native.Inode(_journal);
            _journalGen = -1;
            Tail(table, live: false);
        }
        BanTable old;
        _rw.EnterWriteLock();
        try
        {
            old = _table;
            _table = table;
        }
        finally
        {
            _rw.ExitWriteLock();
        }
        if (raise && Changed is not null)
            RaiseDifferences(old, table);
    }

    private long ReadSnapshot(BanTable table)
    {
        if (!File.Exists(SnapshotPath))
            return 0;
        long gen = 0;
        var sawEnd = false;
        using var reader = new StreamReader(new FileStream(SnapshotPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16), Encoding.UTF8);
        var lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (lineNo == 1)
            {
                if (!JournalFormat.TryParseGeneration(line, JournalFormat.SnapshotHeader, out gen))
                    Damaged(SnapshotPath, 1, "not a ban store snapshot header; reading its records anyway");
                else if (line.IndexOf(" count=", StringComparison.Ordinal) is var c and > 0 && int.TryParse(line.AsSpan(c + 7), out var count) && count > 0)
                    table.EnsureCapacity(Math.Min(count, 50_000_000));
                continue;
            }
            if (line == JournalFormat.SnapshotEnd)
            {
                sawEnd = true;
                continue;
            }
            ApplyLine(table, line, SnapshotPath, lineNo, out _);
        }
        if (!sawEnd)
            Damaged(SnapshotPath, lineNo, "the snapshot ends early (no #end line): the bans read so far are kept");
        return Math.Max(gen, 0);
    }

    /// <summary>Reads complete journal lines past the position into <paramref name="table"/>. False when the file shrank (reload needed).</summary>
    private bool Tail(BanTable table, bool live)
    {
        if (_journal is null)
            return true;
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            while (true)
            {
                var length = RandomAccess.GetLength(_journal);
                if (length < _position)
                    return false;
                if (length == _position)
                    return true;
                var n = RandomAccess.Read(_journal, buffer.AsSpan(0, (int)Math.Min(ChunkBytes, length - _position)), _position);
                var last = buffer.AsSpan(0, n).LastIndexOf((byte)'\n');
                if (last < 0)
                {
                    if (n < ChunkBytes)
                        return true; // a record still being written: wait for its newline
                    Damaged(JournalPath, _lineNo + 1, "a line longer than 4 MiB: skipped");
                    _position += n;
                    continue;
                }
                ApplyChunk(table, live, buffer.AsSpan(0, last + 1));
                _position += last + 1;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void ApplyChunk(BanTable table, bool live, ReadOnlySpan<byte> chunk)
    {
        var applied = new List<(BanChange Change, bool Own)>();
        var start = 0;
        if (live)
            _rw.EnterWriteLock();
        try
        {
            while (start < chunk.Length)
            {
                var end = chunk[start..].IndexOf((byte)'\n') + start;
                var line = Encoding.UTF8.GetString(chunk[start..end]);
                _lineNo++;
                var own = _position + end + 1 <= _ownUntil;
                start = end + 1;
                if (_lineNo == 1)
                {
                    if (!JournalFormat.TryParseGeneration(line, JournalFormat.JournalHeader, out _journalGen))
                        Damaged(JournalPath, 1, "not a ban store journal header; reading its records anyway");
                    else if (_journalGen > _snapshotGen)
                        Damaged(JournalPath, 1, $"the journal follows snapshot generation {_journalGen} but the snapshot is generation {_snapshotGen}: the snapshot was lost or replaced");
                    continue;
                }
                // A journal older than the snapshot (a compaction stopped between its two renames):
                // every record in it is already in the snapshot.
                if (_journalGen >= 0 && _journalGen < _snapshotGen)
                    continue;
                if (ApplyLine(table, line, JournalPath, _lineNo, out var change) && live)
                    applied.Add((change!, own));
            }
        }
        finally
        {
            if (live)
                _rw.ExitWriteLock();
        }
        if (Changed is not null)
        {
            foreach (var (change, own) in applied)
                Raise(change, own);
        }
    }

    private bool ApplyLine(BanTable table, string line, string file, int lineNo, out BanChange? change)
    {
        change = null;
        if (line.Length == 0 || line.StartsWith('#'))
            return false;
        if (!JournalFormat.TryParse(line, out var c, out var error))
        {
            Damaged(file, lineNo, $"damaged record skipped: {error}");
            return false;
        }
        if (c.Kind == BanChangeKind.Banned && ProtectedBy(c.Target) is { } p)
        {
            Report(file, lineNo, $"ban of protected {c.Target} (overlaps {p}) ignored");
            return false;
        }
        if (c.Kind == BanChangeKind.Banned)
            table.Set(c.Entry!);
        else
            table.End(c.Target, c.At.ToUnixTimeMilliseconds());
        change = c;
        return true;
    }

    private void Damaged(string file, int line, string message)
    {
        _damaged = true;
        Report(file, line, message);
    }

    private void RaiseDifferences(BanTable old, BanTable now)
    {
        var clock = Options.Time.GetUtcNow();
        foreach (var e in now.All())
        {
            if (old.TryGet(e.Target, out var before) && Same(before, e))
                continue;
            if (e.IsActive(clock))
                Raise(new BanChange { Kind = BanChangeKind.Banned, Target = e.Target, Entry = e, At = e.Created, Origin = e.Origin }, false);
            else if (before is not null && before.IsActive(clock))
                Raise(new BanChange { Kind = BanChangeKind.Unbanned, Target = e.Target, At = e.Expires ?? clock, Origin = e.Origin }, false);
        }
    }

    private static bool Same(BanEntry a, BanEntry b) =>
        a.Created == b.Created && a.Expires == b.Expires && a.Offences == b.Offences && a.Reason == b.Reason && a.Origin == b.Origin
        && (a.Daemons is null ? b.Daemons is null : b.Daemons is not null && a.Daemons.SequenceEqual(b.Daemons));

    private void CloseJournal()
    {
        _journal?.Dispose();
        _journal = null;
        _journalInode = 0;
        _position = 0;
        _lineNo = 0;
        _ownUntil = 0;
    }

    private static long FileLength(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;
}
