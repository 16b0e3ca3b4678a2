// One journal or snapshot line per change, tab-separated text with a CRC-32 at the end,
// so that a torn or damaged line is recognised and reported instead of half-applied:
//   B  target  daemons|*  created-ms  expires-ms|-  offences  origin  reason  L|R  crc
//   U  target  at-ms  origin  L|R  crc
// Times are Unix milliseconds (absolute: a fleet agrees on them). Text fields are
// %-escaped (%, tab, CR, LF). L/R says whether the change was local or applied from
// another host. Parsing never throws: a bad line is an error message.
using System.Globalization;
using System.Text;

namespace Giftwrap.Bans.Storage;

internal static class JournalFormat
{
    public const string JournalHeader = "#giftwrap-bans journal 1 gen=";
    public const string SnapshotHeader = "#giftwrap-bans snapshot 1 gen=";
    public const string SnapshotEnd = "#end";

    private static readonly uint[] CrcTable = BuildCrcTable();

    public static string Format(BanChange c)
    {
        var sb = new StringBuilder(96);
        if (c.Kind == BanChangeKind.Banned && c.Entry is { } e)
        {
            sb.Append("B\t").Append(c.Target.ToString()).Append('\t')
              .Append(e.Daemons is null ? "*" : string.Join(',', e.Daemons)).Append('\t')
              .Append(Ms(e.Created)).Append('\t')
              .Append(e.Expires is { } x ? Ms(x) : "-").Append('\t')
              .Append(e.Offences.ToString(CultureInfo.InvariantCulture)).Append('\t')
              .Append(Escape(e.Origin)).Append('\t').Append(Escape(e.Reason));
        }
        else
        {
            sb.Append("U\t").Append(c.Target.ToString()).Append('\t').Append(Ms(c.At)).Append('\t').Append(Escape(c.Origin));
        }
        sb.Append('\t').Append(c.IsRemote ? 'R' : 'L');
        var body = sb.ToString();
        return $"{body}\t{Crc(body):x8}";
    }

    public static bool TryParse(string line, out BanChange change, out string error)
    {
        change = null!;
        var tab = line.LastIndexOf('\t');
        if (tab < 0 || !uint.TryParse(line.AsSpan(tab + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var crc)
            || line.Length - tab - 1 != 8)
        {
            return Fail("no checksum at the end of the line", out error);
        }

        var body = line[..tab];
        if (Crc(body) != crc)
            return Fail("checksum mismatch (the line is damaged)", out error);
        var f = body.Split('\t');
        if (f.Length < 2)
            return Fail("too few fields", out error);
        if (!BanTarget.TryParse(f[1], out var target, out var targetError))
            return Fail(targetError, out error);
        error = "";
        if (f[0] == "B" && f.Length == 9 && TryMs(f[3], out var created) && (f[4] == "-" || TryMs(f[4], out _))
            && int.TryParse(f[5], NumberStyles.None, CultureInfo.InvariantCulture, out var offences) && f[8] is "L" or "R")
        {
            var entry = new BanEntry
            {
                Target = target,
                Daemons = f[2] == "*" ? null : f[2].Split(','),
                Created = created,
                Expires = f[4] == "-" ? null : (TryMs(f[4], out var ex) ? ex : null),
                Offences = offences,
                Origin = Unescape(f[6]),
                Reason = Unescape(f[7]),
            };
            change = new BanChange { Kind = BanChangeKind.Banned, Target = target, Entry = entry, At = created, Origin = entry.Origin, IsRemote = f[8] == "R" };
            return true;
        }
        if (f[0] == "U" && f.Length == 5 && TryMs(f[2], out var at) && f[4] is "L" or "R")
        {
            change = new BanChange { Kind = BanChangeKind.Unbanned, Target = target, At = at, Origin = Unescape(f[3]), IsRemote = f[4] == "R" };
            return true;
        }
        return Fail($"not a ban (B) or unban (U) record with the right fields", out error);
    }

    /// <summary>
    /// Reads a header line: true only when it is exactly <paramref name="header"/>, the generation and,
    /// for a snapshot, an optional " count=N". Otherwise <paramref name="generation"/> is the generation's
    /// leading digits when the line starts like a header (-1 when not), and the line is damaged.
    /// </summary>
    public static bool TryParseGeneration(string line, string header, out long generation)
    {
        generation = -1;
        if (!line.StartsWith(header, StringComparison.Ordinal))
            return false;
        var rest = line.AsSpan(header.Length);
        var digits = rest.IndexOfAnyExceptInRange('0', '9');
        if (digits < 0)
            digits = rest.Length;
        if (digits == 0 || !long.TryParse(rest[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out generation))
        {
            generation = -1;
            return false;
        }
        rest = rest[digits..];
        if (rest.IsEmpty)
            return true;
        // A snapshot names its record count; anything else after the generation is damage
        // (a lost newline glues the first record to the header).
        const string Count = " count=";
        return header == SnapshotHeader && rest.StartsWith(Count, StringComparison.Ordinal) && rest.Length > Count.Length
            && rest[Count.Length..].IndexOfAnyExceptInRange('0', '9') < 0;
    }

    /// <summary>
    /// The intact records inside a damaged line: a lost or changed newline glues records (or the
    /// header and the first record, or the last record and #end) into one line, and each keeps its
    /// own checksum. A record starts with "B\t" or "U\t", and since its text fields escape their
    /// tabs it has exactly 9 (B) or 5 (U) tabs, the last one followed by the eight hex digits of
    /// its checksum: each start has one possible end. Every character is then looked at by a few
    /// starts only, so a line of any length costs time in proportion (trying each start against
    /// ends far away made a line of "B\t" repeated a few megabytes long cost hours). A checksum
    /// makes a false find about one in four billion.
    /// </summary>
    public static List<BanChange> Salvage(string line)
    {
        var found = new List<BanChange>();
        var pos = 0;
        for (var s = 0; s + 1 < line.Length; s++)
        {
            if (s < pos || line[s] is not ('B' or 'U') || line[s + 1] != '\t')
                continue;
            var end = RecordEnd(line, s, line[s] == 'B' ? 9 : 5);
            if (end > 0 && TryParse(line[s..end], out var c, out _))
            {
                found.Add(c);
                pos = end;
            }
        }
        return found;
    }

    /// <summary>Where a record starting at <paramref name="start"/> with <paramref name="tabs"/> tabs would end (after its checksum), or -1.</summary>
    private static int RecordEnd(string line, int start, int tabs)
    {
        var i = start;
        for (var n = 0; n < tabs; n++)
        {
            i = line.IndexOf('\t', i + 1);
            if (i < 0)
                return -1;
        }
        return i + 9 <= line.Length && IsHex(line.AsSpan(i + 1, 8)) ? i + 9 : -1;
    }

    private static bool IsHex(ReadOnlySpan<char> s) => s.IndexOfAnyExcept("0123456789abcdef") < 0;

    public static string Ms(DateTimeOffset t) => t.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);

    private static bool TryMs(string s, out DateTimeOffset t)
    {
        t = default;
        if (!long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms)
            || ms < -62135596800000 || ms > 253402300799999)
        {
            return false;
        }

        t = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }

    private static bool Fail(string message, out string error)
    {
        error = message;
        return false;
    }

    private static string Escape(string s) =>
        s.Replace("%", "%25", StringComparison.Ordinal).Replace("\t", "%09", StringComparison.Ordinal)
         .Replace("\n", "%0A", StringComparison.Ordinal).Replace("\r", "%0D", StringComparison.Ordinal);

    private static string Unescape(string s) =>
        !s.Contains('%', StringComparison.Ordinal) ? s :
        s.Replace("%09", "\t", StringComparison.Ordinal).Replace("%0A", "\n", StringComparison.Ordinal)
         .Replace("%0D", "\r", StringComparison.Ordinal).Replace("%25", "%", StringComparison.Ordinal);

    internal static uint Crc(string s) => ~Crc(0xFFFFFFFFu, Encoding.UTF8.GetBytes(s));

    /// <summary>Continues a CRC-32 over <paramref name="bytes"/> (start with 0xFFFFFFFF, finish with ~).</summary>
    internal static uint Crc(uint crc, ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] BuildCrcTable()
    {
        var t = new uint[256];
        for (var n = 0u; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }
}
