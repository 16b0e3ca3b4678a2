// The member's durable memory of the fleet: per target, the newest record it has sent or
// accepted, unban tombstones included, and which local bans the rate cap kept out of the
// fleet. It is what lets a member refuse a ban older than an unban it knows, and push its
// tombstones again when Redis comes back empty. JSON lines, appended and fsynced before a
// record is sent; rewritten (temp file, fsync, rename) when it grows to twice what it holds.
// Lines past 4 MiB are skipped and reported. Not here: deciding what to record (BanFleet) or talking to Redis.
using System.Text;

namespace Giftwrap.Bans.Redis;

internal sealed class FleetLedger : IDisposable
{
    private readonly Dictionary<BanTarget, (FleetRecord Record, bool LocalOnly)> _records = [];
    private readonly List<string> _pending = [];
    private readonly string _path;
    private FileStream _file;
    private int _lines;

    private FleetLedger(string path, FileStream file)
    {
        _path = path;
        _file = file;
    }

    public int Count => _records.Count;

    public IEnumerable<(FleetRecord Record, bool LocalOnly)> All => _records.Values;

    /// <summary>Opens the ledger; damaged lines are skipped and reported through <paramref name="damaged"/>.</summary>
    public static FleetLedger Open(string path, Action<int, string> damaged)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var records = new Dictionary<BanTarget, (FleetRecord, bool)>();
        var lines = 0;
        if (File.Exists(path))
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 16);
            // Lines of at most 4 MiB: a damaged ledger of one 1 GB line is not read into one string.
            foreach (var read in Giftwrap.Bans.Storage.BoundedLines.Read(stream, 4 << 20))
            {
                lines++;
                if (read is not { } line)
                {
                    damaged(lines, "a line longer than 4 MiB");
                    continue;
                }
                if (line.Length == 0)
                    continue;
                if (FleetRecord.Parse(line, out var localOnly, out var error) is not { } r)
                {
                    // A line cut short by a crash was never acted on (we fsync before sending): skip it.
                    damaged(lines, error);
                    continue;
                }
                if (!records.TryGetValue(r.Target, out var known) || r.IsNewerThan(known.Item1))
                    records[r.Target] = (r, localOnly);
            }
        }
        var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
        var ledger = new FleetLedger(path, file) { _lines = lines };
        foreach (var (k, v) in records)
            ledger._records[k] = v;
        return ledger;
    }

    public FleetRecord? Get(BanTarget target) => _records.TryGetValue(target, out var r) ? r.Record : null;

    /// <summary>Records <paramref name="record"/> in memory; written by the next <see cref="Flush"/>.</summary>
    public void Put(FleetRecord record, bool localOnly)
    {
        _records[record.Target] = (record, localOnly);
        _pending.Add(record.ToJson(localOnly));
    }

    /// <summary>Forgets records past their keep time (and grace) at <paramref name="nowMs"/>.</summary>
    public void Forget(long nowMs, long graceMs)
    {
        foreach (var (target, (r, _)) in _records.Where(p => p.Value.Record.KeepUntil is { } k && k + graceMs < nowMs).ToList())
            _records.Remove(target);
    }

    /// <summary>Appends what was put since the last call and fsyncs: after this the records survive a crash.</summary>
    public void Flush()
    {
        if (_pending.Count == 0)
            return;
        var sb = new StringBuilder();
        foreach (var line in _pending)
            sb.Append(line).Append('\n');
        _file.Write(Encoding.UTF8.GetBytes(sb.ToString()));
        _file.Flush(flushToDisk: true);
        _lines += _pending.Count;
        _pending.Clear();
        if (_lines > 2 * _records.Count + 1000)
            Rewrite();
    }

    private void Rewrite()
    {
        var temp = _path + ".tmp";
        using (var fs = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            using (var w = new StreamWriter(fs, new UTF8Encoding(false), 1 << 16, leaveOpen: true))
            {
                foreach (var (r, localOnly) in _records.Values)
                    w.Write(r.ToJson(localOnly) + "\n");
            }
            fs.Flush(flushToDisk: true);
        }
        _file.Dispose();
        File.Move(temp, _path, overwrite: true);
        _file = new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 1 << 16);
        _lines = _records.Count;
    }

    public void Dispose()
    {
        Flush();
        _file.Dispose();
    }
}
