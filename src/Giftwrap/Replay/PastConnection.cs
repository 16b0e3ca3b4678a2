// Past connections read back from logs: Giftwrap's decision log (one JSON object a
// line) or libwrap/tcpd syslog lines ("sshd[123]: refused connect from 1.2.3.4").
// Reading is streaming and bounded: a line longer than the limit is skipped whole,
// a line that is not a decision is ignored, and the count of both is kept.
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Giftwrap.Decisions;

namespace Giftwrap.Replay;

/// <summary>One past connection: what the log says about it.</summary>
public sealed record PastConnection(string Daemon, string? Address, string? Name, string? User, string? ServerAddress, int ServerPort);

/// <summary>How much of a log was usable.</summary>
public sealed class LogStats
{
    /// <summary>Lines read.</summary>
    public long Lines { get; set; }
    /// <summary>Lines that were decisions.</summary>
    public long Decisions { get; set; }
    /// <summary>Lines longer than the limit, skipped.</summary>
    public long TooLong { get; set; }
    /// <summary>Lines that were not decisions (other log traffic, garbage).</summary>
    public long Ignored { get; set; }
}

/// <summary>Reads past connections from a log.</summary>
public static partial class LogReader
{
    /// <summary>Lines longer than this are skipped (a log line of any length must not exhaust memory).</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Past connections in a decision log (JSON lines).</summary>
    public static IEnumerable<PastConnection> DecisionLog(Stream stream, LogStats stats)
    {
        foreach (var line in Lines(stream, stats))
        {
            if (TryParseDecision(line, out var c))
            {
                stats.Decisions++;
                yield return c;
            }
            else
            {
                stats.Ignored++;
            }
        }
    }

    /// <summary>Past connections in a syslog file with tcpd's lines.</summary>
    public static IEnumerable<PastConnection> Syslog(Stream stream, LogStats stats)
    {
        foreach (var line in Lines(stream, stats))
        {
            var m = TcpdLine().Match(line);
            if (!m.Success)
            {
                stats.Ignored++;
                continue;
            }
            stats.Decisions++;
            var client = m.Groups["client"].Value;
            string? user = null;
            var at = client.LastIndexOf('@');
            if (at > 0)
            {
                user = client[..at];
                client = client[(at + 1)..];
            }
            var isAddress = System.Net.IPAddress.TryParse(client, out _);
            yield return new PastConnection(m.Groups["daemon"].Value, isAddress ? client : null, isAddress ? null : client, user, null, 0);
        }
    }

    // "... sshd[123]: refused connect from 1.2.3.4" and "... in.ftpd[9]: connect from bob@host.example"
    [GeneratedRegex(@"(?:^|\s)(?<daemon>[^\s\[\]:]+)(?:\[\d+\])?: (?:refused )?connect from (?<client>\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex TcpdLine();

    private static bool TryParseDecision(string line, out PastConnection connection)
    {
        connection = null!;
        if (line.Length == 0 || line[0] != '{')
            return false;
        try
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object || !r.TryGetProperty("daemon", out var d) || d.ValueKind != JsonValueKind.String)
                return false;
            connection = new PastConnection(d.GetString()!, Str(r, "client"), Str(r, "client_name"), Str(r, "user"), Str(r, "server"),
                r.TryGetProperty("server_port", out var p) && p.TryGetInt32(out var port) ? port : 0);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string? Str(JsonElement r, string name) =>
        r.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>Lines as Latin-1 text (any bytes are fine), each at most <see cref="MaxLineBytes"/>.</summary>
    private static IEnumerable<string> Lines(Stream stream, LogStats stats)
    {
        var buffer = new byte[1 << 16];
        var line = new MemoryStream();
        var skipping = false;
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            for (var i = 0; i < n; i++)
            {
                if (buffer[i] != (byte)'\n')
                    continue;
                var done = Take(buffer.AsSpan(start, i - start), line, ref skipping, stats, out var text);
                start = i + 1;
                if (done)
                    yield return text!;
            }
            if (!skipping)
                line.Write(buffer, start, n - start);
            if (line.Length > MaxLineBytes)
            {
                skipping = true;
                line.SetLength(0);
            }
        }
        if (line.Length > 0 || skipping)
        {
            if (Take([], line, ref skipping, stats, out var last))
                yield return last!;
        }
    }

    private static bool Take(ReadOnlySpan<byte> tail, MemoryStream line, ref bool skipping, LogStats stats, out string? text)
    {
        stats.Lines++;
        text = null;
        if (skipping || line.Length + tail.Length > MaxLineBytes)
        {
            stats.TooLong++;
            skipping = false;
            line.SetLength(0);
            return false;
        }
        line.Write(tail);
        text = Encoding.Latin1.GetString(line.GetBuffer(), 0, (int)line.Length).TrimEnd('\r');
        line.SetLength(0);
        return true;
    }
}
