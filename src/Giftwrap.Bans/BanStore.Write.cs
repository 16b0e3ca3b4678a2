// Writing the store's files, always under the writers' lock: appending records with one
// write and an fsync before a ban is acknowledged; repairing a journal whose last record
// was cut short by a crash (it was never acknowledged); compacting into a new snapshot
// (temp file, fsync, rename, directory fsync); and the hosts.deny block.
using System.Text;
using Giftwrap.Bans.HostsDeny;
using Giftwrap.Bans.Storage;

namespace Giftwrap.Bans;

public sealed partial class BanStore
{
    private void EnsureJournal()
    {
        if (!File.Exists(JournalPath))
        {
            // A new store (or a journal removed by hand): start the journal that follows the snapshot.
            // A journal older than the snapshot is kept: its records are read again, which changes nothing.
            WriteAtomically(JournalPath, w => w.Write($"{JournalFormat.JournalHeader}{SnapshotGeneration()}\n"));
            return;
        }
        using var h = File.OpenHandle(JournalPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        var length = RandomAccess.GetLength(h);
        if (length == 0)
            return;
        Span<byte> one = stackalloc byte[1];
        RandomAccess.Read(h, one, length - 1);
        if (one[0] == (byte)'\n')
            return;
        // We hold the lock, so nobody is writing: the last record lost its newline. Whole (its checksum
        // holds: a damaged newline, or a write cut short just before it), it is kept and ended; torn, its
        // writer died before the fsync returned, so it was never acknowledged: cut off.
        var keep = LastNewline(h, length) + 1;
        if (length - keep <= ChunkBytes && WholeRecords(h, keep, length) is var whole and > 0)
        {
            RandomAccess.Write(h, "\n"u8, length);
            Native.FsyncOrThrow(h, JournalPath);
            Report(JournalPath, 0, $"the last record had lost its newline; {whole} intact record(s) in it kept");
            return;
        }
        RandomAccess.SetLength(h, keep);
        Native.FsyncOrThrow(h, JournalPath);
        Report(JournalPath, 0, $"an incomplete last record ({length - keep} bytes, never acknowledged) was removed");
    }

    private static int WholeRecords(Microsoft.Win32.SafeHandles.SafeFileHandle h, long from, long to)
    {
        var bytes = new byte[to - from];
        var n = RandomAccess.Read(h, bytes, from);
        var line = Encoding.UTF8.GetString(bytes, 0, n);
        return JournalFormat.TryParse(line, out _, out _) ? 1 : JournalFormat.Salvage(line).Count;
    }

    private static long LastNewline(Microsoft.Win32.SafeHandles.SafeFileHandle h, long length)
    {
        var buffer = new byte[64 * 1024];
        var end = length;
        while (end > 0)
        {
            var start = Math.Max(0, end - buffer.Length);
            var n = RandomAccess.Read(h, buffer.AsSpan(0, (int)(end - start)), start);
            var i = buffer.AsSpan(0, n).LastIndexOf((byte)'\n');
            if (i >= 0)
                return start + i;
            end = start;
        }
        return -1;
    }

    private long SnapshotGeneration() => HeaderGeneration(SnapshotPath, JournalFormat.SnapshotHeader) ?? 0;

    private static long? HeaderGeneration(string path, string header)
    {
        if (!File.Exists(path))
            return null;
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 512));
        return reader.ReadLine() is { } line && JournalFormat.TryParseGeneration(line, header, out var g) ? g : null;
    }

    /// <summary>Appends the records (one write per chunk) and fsyncs; returns the journal's new end.</summary>
    private long Append(List<BanChange> changes)
    {
        using var h = File.OpenHandle(JournalPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        var start = RandomAccess.GetLength(h);
        var offset = start;
        try
        {
            var sb = new StringBuilder();
            for (var i = 0; i < changes.Count; i++)
            {
                sb.Append(JournalFormat.Format(changes[i])).Append('\n');
                if (sb.Length > (1 << 20) || i == changes.Count - 1)
                {
                    var bytes = Encoding.UTF8.GetBytes(sb.ToString());
                    RandomAccess.Write(h, bytes, offset);
                    offset += bytes.Length;
                    sb.Clear();
                }
            }
            // The ban is acknowledged only after this returns: it then survives kill -9 and power loss.
            Native.FsyncOrThrow(h, JournalPath);
            return offset;
        }
        catch (IOException ex)
        {
            // A full disk (or a failing one): nothing of this call is acknowledged. The part written is cut
            // off again, so the journal ends cleanly and the space comes back; what cannot be cut, the next
            // writer does (EnsureJournal).
            try
            {
                RandomAccess.SetLength(h, start);
            }
            catch (IOException)
            {
                // Left for the next writer.
            }
            throw new IOException($"{JournalPath}: not recorded, nothing changed: {ex.Message}", ex);
        }
    }

    /// <summary>Compacts, reporting instead of throwing: it runs after records were acknowledged.</summary>
    private void TryCompact()
    {
        try
        {
            Compact();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A full disk: the journal (complete and fsynced) stays in charge and keeps growing.
            TryDelete(SnapshotPath + ".tmp");
            TryDelete(JournalPath + ".tmp");
            Report(Directory, 0, $"compaction failed, the journal stays in use: {ex.Message}");
        }
    }

    /// <summary>Writes the current list as a new snapshot and starts an empty journal after it.</summary>
    internal void Compact()
    {
        var gen = Math.Max(_snapshotGen, _journalGen) + 1;
        if (_damaged)
        {
            // The damaged files are kept for the administrator (copied when the damage was found):
            // compaction must not erase the evidence. A copy that could not be made stops it.
            KeepDamagedAside();
            foreach (var f in _damagedFiles.Where(File.Exists))
            {
                if (!System.IO.Directory.EnumerateFiles(Directory, $"{Path.GetFileName(f)}.damaged-{Native.Inode(f)}-*").Any())
                    throw new IOException($"{f}: damaged and no copy of it could be kept; not compacted");
            }
        }
        var forgetBefore = Options.Time.GetUtcNow() - (Options.MaxTime > TimeSpan.FromDays(1) ? Options.MaxTime : TimeSpan.FromDays(1));
        List<BanEntry> entries;
        _rw.EnterReadLock();
        try
        {
            // Expired bans are kept a while (max_time, at least a day) so repeat offenders still escalate.
            entries = [.. _table.All().Where(e => e.Expires is not { } x || x > forgetBefore)];
        }
        finally
        {
            _rw.ExitReadLock();
        }
        WriteAtomically(SnapshotPath, w =>
        {
            w.Write($"{JournalFormat.SnapshotHeader}{gen} count={entries.Count}\n");
            foreach (var e in entries)
            {
                w.Write(JournalFormat.Format(Banned(e, remote: false)));
                w.Write('\n');
            }
            w.Write($"{JournalFormat.SnapshotEnd}\n");
        });
        WriteAtomically(JournalPath, w => w.Write($"{JournalFormat.JournalHeader}{gen}\n"));
        _damaged = false;
        _damagedRecords = false;
        _headerOnlyDamage = false;
        _damagedFiles.Clear();
        // Our table already holds this state: follow the new journal without reading the snapshot back.
        CloseJournal();
        _snapshotGen = gen;
        _journal = File.OpenHandle(JournalPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _journalInode = Native.Inode(_journal);
        Tail(_table, live: true);
    }

    private void WriteAtomically(string path, Action<StreamWriter> write)
    {
        var temp = path + ".tmp";
        try
        {
            using var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
            using (var w = new StreamWriter(fs, new UTF8Encoding(false), 1 << 16, leaveOpen: true))
                write(w);
            fs.Flush(flushToDisk: true);
        }
        catch (IOException)
        {
            // A full disk: the half-written copy goes, the file it was to replace is untouched.
            TryDelete(temp);
            throw;
        }
        File.Move(temp, path, overwrite: true);
        Native.FsyncDirectory(Directory);
    }

    /// <summary>Rewrites the marked block of [bans] hosts_deny from the active list (under the writers' lock).</summary>
    private void SyncHostsDeny()
    {
        if (Options.HostsDeny is not { } path)
            return;
        var now = Options.Time.GetUtcNow();
        var active = List(now);
        _nextExpiryMs = active.Select(e => e.Expires?.ToUnixTimeMilliseconds() ?? long.MaxValue).DefaultIfEmpty(long.MaxValue).Min();
        if (HostsDenyFile.Sync(path, HostsDenyFile.Render(active)) is { } problem)
            Report(path, 0, problem);
    }
}
