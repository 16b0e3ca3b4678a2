// The decision log: one JSON object a line per decision (time, daemon, client,
// server, verdict, matched file:line, actions), for `giftwrap replay` and for
// people. Appends under a lock, rotates by size (file, file.1 ... file.N), so it
// stays bounded. A write failure is counted, never thrown into a connection.
using System.Text.Json;
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
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("time", when.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("daemon", r.Daemon);
            w.WriteString("client", r.ClientAddress ?? AccessRequest.Unknown);
            w.WriteString("client_name", r.ClientName ?? AccessRequest.Unknown);
            w.WriteString("user", r.ClientUser ?? AccessRequest.Unknown);
            w.WriteString("server", r.ServerAddress ?? AccessRequest.Unknown);
            w.WriteNumber("server_port", r.ServerPort);
            w.WriteString("verdict", verdict);
            if (d.Match is { } m)
                w.WriteString("match", $"{m.File}:{m.Line}");
            else
                w.WriteNull("match");
            w.WriteStartArray("actions");
            foreach (var a in d.Actions)
                w.WriteStringValue(a.Value.Length > 0 ? $"{a.Keyword} {a.Value}" : a.Keyword);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    private FileStream Open()
    {
        // Looked at before it is opened: opening a FIFO for writing waits for a reader, under the lock every
        // decision takes (the gate stopped serving). A write failure it is then, counted like any other.
        if (Giftwrap.Tables.TableFile.NotRegular(_path) is { } what)
            throw new IOException($"{_path}: {what}, not a regular file");
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
