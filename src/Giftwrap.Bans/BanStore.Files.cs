// The store's files in DIR: `snapshot` (the compacted list), `journal` (records since
// the snapshot; its header names the snapshot generation it follows) and `lock` (the
// writers' flock). Writers append and fsync under the lock; readers tail the journal
// and reload when the journal file is replaced by a compaction (a new inode). A damaged
// line is reported with its file and line, the damaged file is copied aside, and every
// intact record is still read, those glued into a damaged line included (fail closed).
// Opening only reads: nothing is created, repaired or rewritten before the first write,
// so a read-only listing leaves a damaged store exactly as it found it.
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
    // The journal's header is damaged or names another generation than the snapshot, while every
    // record was read: a writer compacts at once (after keeping a copy), which settles it.
    private bool _headerOnlyDamage;
    private readonly List<(string File, int Line)> _keepAside = [];
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
                Load(raise: false);
                ReportIncompleteTail();
                if (!_damaged)
                    SyncHostsDeny();
                else if (Options.HostsDeny is { } hostsDeny)
                    Report(hostsDeny, 0, "not rewritten from a damaged store at open; the next ban or unban rewrites it");
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
            if (_headerOnlyDamage && !_damagedRecords)
                TryCompact(); // every record was read: rewrite the header's damage away, a copy kept aside
            var (results, changes) = decide();
            if (changes.Count == 0)
                return results;
            _ownUntil = Append(changes);
            // The changes are on disk and acknowledged from here on: what follows must not fail the call.
            if (!Tail(_table, live: true))
                Load(raise: true);
            if (_journal is not null && RandomAccess.GetLength(_journal) > CompactThreshold + FileLength(SnapshotPath) / 2)
                TryCompact();
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
        _damagedRecords = false;
        _headerOnlyDamage = false;
        _damagedFiles.Clear();
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
        KeepDamagedAside();
    }

    private long ReadSnapshot(BanTable table)
    {
        if (!File.Exists(SnapshotPath))
            return 0;
        long gen = 0;
        var sawEnd = false;
        using var stream = new FileStream(SnapshotPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
        var lineNo = 0;
        foreach (var read in BoundedLines.Read(stream, ChunkBytes))
        {
            lineNo++;
            if (read is not { } line)
            {
                Damaged(SnapshotPath, lineNo, "a line longer than 4 MiB: skipped");
                _damagedRecords = true;
                continue;
            }
            if (lineNo == 1)
            {
                if (!JournalFormat.TryParseGeneration(line, JournalFormat.SnapshotHeader, out gen))
                {
                    Damaged(SnapshotPath, 1, "damaged snapshot header; every record in the file is still read");
                    _headerOnlyDamage = true;
                    ApplySalvaged(table, line, SnapshotPath, 1, null);
                }
                else if (line.IndexOf(" count=", StringComparison.Ordinal) is var c and > 0 && int.TryParse(line.AsSpan(c + 7), out var count) && count > 0)
                {
                    // Room for what the file can hold (a record as written takes over 40 bytes), not for what a
                    // damaged count says: "count=2000000000" reserved about 3 GB for a file of two bans.
                    table.EnsureCapacity((int)Math.Min(count, stream.Length / 40));
                }

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
        {
            Damaged(SnapshotPath, lineNo, "the snapshot ends early (no #end line): the bans read so far are kept");
            _damagedRecords = true;
        }
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
            KeepDamagedAside();
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
                    JournalHeader(table, line, live ? applied : null, own);
                    continue;
                }
                // Every record is applied, whatever the header says: replaying a journal over the snapshot
                // it was compacted into changes nothing (each target ends as its last record left it), while
                // skipping one on the word of a damaged header ("gen=0") would lift every ban in it.
                if (ApplyLine(table, line, JournalPath, _lineNo, out var change) && live)
                    applied.Add((change!, own));
                else if (change is null && _lastSalvaged is { } salvaged && live)
                    applied.AddRange(salvaged.Select(c => (c, own)));
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

    // The journal's first line: its generation, or damage (reported, the file kept aside, any records glued to it read).
    private void JournalHeader(BanTable table, string line, List<(BanChange, bool)>? applied, bool own)
    {
        if (!JournalFormat.TryParseGeneration(line, JournalFormat.JournalHeader, out _journalGen))
        {
            Damaged(JournalPath, 1, "damaged journal header; every record in the file is still read");
            _headerOnlyDamage = true;
            ApplySalvaged(table, line, JournalPath, 1, applied, own);
        }
        else if (_journalGen != _snapshotGen)
        {
            // Either header may be the damaged one: both files are kept aside.
            Damaged(JournalPath, 1, $"the journal follows snapshot generation {_journalGen} but {SnapshotPath} is generation {_snapshotGen} "
                + (_journalGen > _snapshotGen ? "(the snapshot was lost or replaced, or a header is damaged)" : "(a compaction was interrupted, or a header is damaged)")
                + ": every record of both is read");
            if (File.Exists(SnapshotPath))
                Damaged(SnapshotPath, 1, $"its generation {_snapshotGen} does not match the journal's {_journalGen} (see {JournalPath}:1)");
            _headerOnlyDamage = true;
        }
    }

    // Set by ApplyLine when it recovered records from a damaged line.
    private List<BanChange>? _lastSalvaged;

    private bool ApplyLine(BanTable table, string line, string file, int lineNo, out BanChange? change)
    {
        change = null;
        _lastSalvaged = null;
        if (line.Length == 0 || line.StartsWith('#'))
            return false;
        if (!JournalFormat.TryParse(line, out var c, out var error))
        {
            var salvaged = JournalFormat.Salvage(line);
            Damaged(file, lineNo, salvaged.Count == 0
                ? $"damaged record skipped: {error}"
                : $"damaged line ({error}): {salvaged.Count} intact record(s) glued into it were read");
            _damagedRecords = true;
            _lastSalvaged = [.. salvaged.Where(s => Apply(table, s, file, lineNo))];
            return false;
        }
        if (!Apply(table, c, file, lineNo))
            return false;
        change = c;
        return true;
    }

    private void ApplySalvaged(BanTable table, string line, string file, int lineNo, List<(BanChange, bool)>? applied, bool own = false)
    {
        foreach (var c in JournalFormat.Salvage(line))
        {
            if (Apply(table, c, file, lineNo))
                applied?.Add((c, own));
        }
    }

    private bool Apply(BanTable table, BanChange c, string file, int lineNo)
    {
        if (c.Kind == BanChangeKind.Banned && ProtectedBy(c.Target) is { } p)
        {
            Report(file, lineNo, $"ban of protected {c.Target} ({Overlap(c.Target, p)}) ignored");
            return false;
        }
        if (c.Kind == BanChangeKind.Banned)
            table.Set(c.Entry!);
        else
            table.End(c.Target, c.At.ToUnixTimeMilliseconds());
        return true;
    }

    private void Damaged(string file, int line, string message)
    {
        _damaged = true;
        _damagedFiles.Add(file);
        Report(file, line, message);
        lock (_keepAside)
            _keepAside.Add((file, line));
    }

    private bool _damagedRecords;
    private readonly HashSet<string> _damagedFiles = new(StringComparer.Ordinal);

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

    /// <summary>
    /// Copies each file found damaged to FILE.damaged-INODE-LINE (once: the name says which file and
    /// which damage, so every process that finds it makes the same one), for the administrator.
    /// Copying adds a file beside the store; the store itself is left as it is.
    /// </summary>
    private void KeepDamagedAside()
    {
        (string File, int Line)[] pending;
        lock (_keepAside)
        {
            if (_keepAside.Count == 0)
                return;
            pending = [.. _keepAside.Distinct()];
            _keepAside.Clear();
        }
        foreach (var group in pending.GroupBy(p => p.File))
        {
            var (file, line) = group.OrderBy(p => p.Line).First();
            var inode = Native.Inode(file);
            var copy = $"{file}.damaged-{inode}-{line}";
            if (inode == 0 || File.Exists(copy))
                continue;
            var temp = copy + ".tmp";
            try
            {
                File.Copy(file, temp, overwrite: true);
                using (var h = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
                    Native.FsyncOrThrow(h, temp);
                File.Move(temp, copy, overwrite: false);
                Report(file, line, $"the damaged file is kept as {copy}");
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A reader without write access, or a full disk: the damage is reported all the same.
                TryDelete(temp);
                Report(file, line, $"could not keep a copy of the damaged file: {ex.Message}");
            }
        }
    }

    /// <summary>At open, under the lock (no writer is mid-record): a journal ending without a newline is said out loud.</summary>
    private void ReportIncompleteTail()
    {
        if (_journal is null)
            return;
        var rest = RandomAccess.GetLength(_journal) - _position;
        if (rest > 0)
            Report(JournalPath, _lineNo + 1, $"an incomplete last record (no newline, {rest} bytes): not read now; the next writer keeps it if it is whole and removes it if not (a write cut short, never acknowledged)");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left behind; the next attempt overwrites it.
        }
    }
}
