// The decision log: one JSON object a line per decision (time, daemon, client,
// server, verdict, matched file:line, actions), for `giftwrap replay` and for
// people. Appends under a lock, rotates by size (file, file.1 ... file.N), so it
// stays bounded. A write failure is counted, never thrown into a connection.
using Giftwrap.Decisions;

namespace Giftwrap.Gate.Logging;

public sealed class DecisionLog : IDisposable
{
    private readonly object _gate = new();
    private readonly string _path;
    private readonly long _maxBytes;
    private readonly int _keep;
    private FileStream? _stream;

    /// <param name="path">The log file.</param>
    /// <param name="maxBytes">Size at which the file is rotated.</param>
    /// <param name="keep">How many rotated files are kept.</param>
    public DecisionLog(string path, long maxBytes = 10 * 1024 * 1024, int keep = 3)
    {
        _path = path;
        _maxBytes = Math.Max(4096, maxBytes);
        _keep = Math.Max(1, keep);
    }

    public long Failures { get; private set; }

    public void Write(AccessRequest r, Decision d, string verdict, DateTimeOffset? when = null)
    {
        var line = Format(r, d, verdict, when ?? DateTimeOffset.UtcNow);
        lock (_gate)
        {
            try
            {
                _stream ??= Open();
                if (_stream.Length + line.Length > _maxBytes)
                    Rotate();
                _stream.Write(line);
                _stream.Flush();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Failures++;
                _stream?.Dispose();
                _stream = null;
            }
        }
    }

    internal static byte[] Format(AccessRequest r, Decision d, string verdict, DateTimeOffset when)
    {
        var w = new JsonLineWriter();
        w.StartObject();
        w.String("time", when.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        w.String("daemon", r.Daemon);
        w.String("client", r.ClientAddress ?? AccessRequest.Unknown);
        w.String("client_name", r.ClientName ?? AccessRequest.Unknown);
        w.String("user", r.ClientUser ?? AccessRequest.Unknown);
        w.String("server", r.ServerAddress ?? AccessRequest.Unknown);
        w.Number("server_port", r.ServerPort);
        w.String("verdict", verdict);
        if (d.Match is { } m)
            w.String("match", $"{m.File}:{m.Line}");
        else
            w.Null("match");
        w.StartArray("actions");
        foreach (var a in d.Actions)
            w.StringValue(a.Value.Length > 0 ? $"{a.Keyword} {a.Value}" : a.Keyword);
        w.EndArray();
        w.EndObject();
        return w.ToLine();
    }

    private FileStream Open()
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(_path));
        if (dir is not null)
            Directory.CreateDirectory(dir);
        return new FileStream(_path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
    }

    private void Rotate()
    {
        _stream?.Dispose();
        _stream = null;
        for (var i = _keep - 1; i >= 1; i--)
        {
            var from = $"{_path}.{i}";
            if (File.Exists(from))
                File.Move(from, $"{_path}.{i + 1}", overwrite: true);
        }
        if (File.Exists(_path))
            File.Move(_path, $"{_path}.1", overwrite: true);
        _stream = Open();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _stream?.Dispose();
            _stream = null;
        }
    }
}
