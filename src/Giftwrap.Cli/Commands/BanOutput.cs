// How `giftwrap bans` prints the list (a table, or JSON written without reflection so
// NativeAOT keeps working), and how --daemon lists are read.
using System.Globalization;
using System.Text;
using System.Text.Json;
using Giftwrap.Bans;

namespace Giftwrap.Cli.Commands;

internal static class BanOutput
{
    /// <summary>Reads "sshd,vsftpd" (commas or spaces); null for every daemon (none given, or ALL).</summary>
    public static IReadOnlyList<string>? ParseDaemons(string? text, List<string> errors)
    {
        if (text is null)
            return null;
        var names = text.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0)
        {
            errors.Add("--daemon: empty daemon list (leave --daemon out for every daemon)");
            return null;
        }
        if (names.Any(n => n.Equals("ALL", StringComparison.OrdinalIgnoreCase)))
            return null;
        foreach (var n in names)
        {
            if (n.Length > 64 || n.Any(c => c <= ' ' || c is ':' or '#' or '\\' or (char)127))
                errors.Add($"--daemon: \"{n}\" is not a daemon name");
        }
        return names;
    }

    public static string Text(IReadOnlyList<BanEntry> bans, DateTimeOffset now)
    {
        if (bans.Count == 0)
            return "no active bans\n";
        var rows = bans.Select(b => new[]
        {
            b.Target.ToString(),
            // Daemon names, reasons and origins come from other hosts too (a fleet member, a feed); the
            // store's check of daemon names (what hosts.deny can carry) lets C1 controls through.
            b.Daemons is null ? "ALL" : TerminalText.Printable(string.Join(",", b.Daemons)),
            b.Reason.Length > 0 ? TerminalText.Printable(b.Reason.ReplaceLineEndings(" ")) : "-",
            TerminalText.Printable(b.Origin),
            BanDuration.Format(b.TimeLeft(now)),
        }).ToList();
        string[] header = ["ADDRESS", "DAEMONS", "REASON", "ORIGIN", "LEFT"];
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Max(r => r[i].Length))).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows.Prepend(header))
            sb.AppendJoin("  ", row.Select((c, i) => i == row.Length - 1 ? c : c.PadRight(widths[i]))).Append('\n');
        return sb.ToString();
    }

    public static string Json(IReadOnlyList<BanEntry> bans, DateTimeOffset now)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartArray();
            foreach (var b in bans)
            {
                w.WriteStartObject();
                w.WriteString("address", b.Target.ToString());
                w.WriteStartArray("daemons");
                foreach (var d in b.Daemons ?? ["ALL"])
                    w.WriteStringValue(d);
                w.WriteEndArray();
                w.WriteString("reason", b.Reason);
                w.WriteString("origin", b.Origin);
                w.WriteString("created", b.Created.ToString("O", CultureInfo.InvariantCulture));
                if (b.Expires is { } e)
                {
                    w.WriteString("expires", e.ToString("O", CultureInfo.InvariantCulture));
                    w.WriteNumber("seconds_left", (long)Math.Ceiling(b.TimeLeft(now)!.Value.TotalSeconds));
                }
                else
                {
                    w.WriteNull("expires");
                    w.WriteNull("seconds_left");
                }
                w.WriteNumber("offences", b.Offences);
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(stream.ToArray()) + "\n";
    }
}
