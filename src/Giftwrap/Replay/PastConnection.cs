// Past connections read back from logs: Giftwrap's decision log (one JSON object a
// line) or libwrap/tcpd syslog lines ("sshd[123]: refused connect from 1.2.3.4", Debian's
// "sshd[123]: refused connect from host.example (1.2.3.4)"), read by LibwrapLines.
// Reading is streaming and bounded: a line longer than the limit is skipped whole,
// a line that is not a decision is ignored, and the count of both is kept.
using System.Text;
using System.Text.Json;

namespace Giftwrap.Replay;

/// <summary>One past connection: what the log says about it.</summary>
internal sealed record PastConnection(string Daemon, string? Address, string? Name, string? User, string? ServerAddress, int ServerPort);

/// <summary>How much of a log was usable.</summary>
internal sealed class LogStats
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
internal static class LogReader
{
    /// <summary>Lines longer than this are skipped (a log line of any length must not exhaust memory).</summary>
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>Past connections in a decision log (JSON lines).</summary>
    public static IEnumerable<PastConnection> DecisionLog(Stream stream, LogStats stats)
    {
        var strings = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Lines(stream, stats))
        {
            if (TryParseDecision(line.Span, strings, out var c))
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
        foreach (var bytes in Lines(stream, stats))
        {
            var line = Encoding.Latin1.GetString(bytes.Span).TrimEnd('\r');
            if (Logging.LibwrapLines.Read(line) is not var (daemon, _, client, address))
            {
                stats.Ignored++;
                continue;
            }
            stats.Decisions++;
            string? user = null;
            var at = client.LastIndexOf('@');
            if (at > 0)
            {
                user = client[..at];
                client = client[(at + 1)..];
            }
            // Debian's tcpd names the address after the host: "connect from host.example (1.2.3.4)".
            var isAddress = System.Net.IPAddress.TryParse(client, out _);
            yield return new PastConnection(daemon, address ?? (isAddress ? client : null), isAddress ? null : client, user, null, 0);
        }
    }

    // Utf8JsonReader over the line's bytes: no document is built per line.
    private static bool TryParseDecision(ReadOnlySpan<byte> line, Dictionary<string, string> strings, out PastConnection connection)
    {
        connection = null!;
        if (line.Length == 0 || line[0] != (byte)'{')
            return false;
        string? daemon = null, client = null, name = null, user = null, server = null;
        var port = 0;
        try
        {
            var r = new Utf8JsonReader(line);
            if (!r.Read() || r.TokenType != JsonTokenType.StartObject)
                return false;
            while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
            {
                var key = r.ValueSpan;
                if (!r.Read())
                    return false;
                if (r.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
                {
                    r.Skip();
                    continue;
                }
                if (key.SequenceEqual("server_port"u8))
                    port = r.TokenType == JsonTokenType.Number && r.TryGetInt32(out var p) ? p : 0;
                else if (r.TokenType != JsonTokenType.String)
                    continue;
                else if (key.SequenceEqual("daemon"u8))
                    daemon = Intern(r.GetString()!, strings);
                else if (key.SequenceEqual("client"u8))
                    client = r.GetString();
                else if (key.SequenceEqual("client_name"u8))
                    name = Intern(r.GetString()!, strings);
                else if (key.SequenceEqual("user"u8))
                    user = Intern(r.GetString()!, strings);
                else if (key.SequenceEqual("server"u8))
                    server = Intern(r.GetString()!, strings);
            }
        }
        catch (JsonException)
        {
            return false;
        }
        if (daemon is null)
            return false;
        connection = new PastConnection(daemon, client, name, user, server, port);
        return true;
    }

    private static string Intern(string s, Dictionary<string, string> strings)
    {
        if (strings.TryGetValue(s, out var known))
            return known;
        if (strings.Count < 10_000)
            strings[s] = s;
        return s;
    }

    /// <summary>
    /// Lines as bytes (without the newline), each at most <see cref="MaxLineBytes"/>; longer ones are
    /// counted and skipped. The memory is reused: use each line before asking for the next.
    /// </summary>
    private static IEnumerable<ReadOnlyMemory<byte>> Lines(Stream stream, LogStats stats)
    {
        var buffer = new byte[1 << 16];
        var line = new byte[MaxLineBytes];
        var length = 0;
        var skipping = false;
        int n;
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            var start = 0;
            while (start < n)
            {
                var nl = Array.IndexOf(buffer, (byte)'\n', start, n - start);
                var end = nl < 0 ? n : nl;
                var piece = end - start;
                if (!skipping)
                {
                    if (length + piece > MaxLineBytes)
                    {
                        skipping = true;
                        length = 0;
                    }
                    else
                    {
                        Buffer.BlockCopy(buffer, start, line, length, piece);
                        length += piece;
                    }
                }
                if (nl < 0)
                    break;
                stats.Lines++;
                if (skipping)
                    stats.TooLong++;
                else
                    yield return line.AsMemory(0, length);
                skipping = false;
                length = 0;
                start = nl + 1;
            }
        }
        if (length > 0 || skipping)
        {
            stats.Lines++;
            if (skipping)
                stats.TooLong++;
            else
                yield return line.AsMemory(0, length);
        }
    }
}
