// One target's latest state as the fleet shares it: a ban (with its absolute expiry) or
// an unban tombstone (kept until the ban it ended would have expired, so a late copy of
// that ban cannot come back). Records are ordered by version (the change time in Unix ms),
// an unban before a ban at the same millisecond, then by origin: every member and the
// Redis script pick the same winner. The JSON form is the value in Redis and the ledger line.
using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Giftwrap.Bans.Redis;

internal enum RecordKind
{
    Ban,
    Unban,
}

internal sealed record FleetRecord
{
    public required BanTarget Target { get; init; }

    public required RecordKind Kind { get; init; }

    /// <summary>The change time in Unix ms: a ban's creation, an unban's effect.</summary>
    public required long Version { get; init; }

    public required string Origin { get; init; }

    public IReadOnlyList<string>? Daemons { get; init; }

    public string Reason { get; init; } = "";

    /// <summary>A ban's expiry in Unix ms; null for a permanent ban (and for an unban).</summary>
    public long? Expires { get; init; }

    public int Offences { get; init; } = 1;

    /// <summary>After this Unix ms the record may be forgotten; null: never.</summary>
    public long? KeepUntil { get; init; }

    /// <summary>
    /// The version its sender gave a record dated more than fleet_max_skew ahead, which a member orders
    /// as made at its own clock plus that skew (<see cref="Version"/>); null for a record taken as dated.
    /// Kept so that the same future-dated record read again is known, not taken as new.
    /// </summary>
    public long? Claimed { get; init; }

    /// <summary>True when <paramref name="other"/> is this record as its sender dated it, and this the bounded copy.</summary>
    public bool Bounds(FleetRecord other) =>
        Claimed == other.Version && Kind == other.Kind && Target == other.Target && string.Equals(Origin, other.Origin, StringComparison.Ordinal);

    public static FleetRecord FromEntry(BanEntry e) => new()
    {
        Target = e.Target,
        Kind = RecordKind.Ban,
        Version = e.Created.ToUnixTimeMilliseconds(),
        Origin = e.Origin,
        Daemons = e.Daemons,
        Reason = e.Reason,
        Expires = e.Expires?.ToUnixTimeMilliseconds(),
        Offences = e.Offences,
        KeepUntil = e.Expires?.ToUnixTimeMilliseconds(),
    };

    public static FleetRecord Unban(BanTarget target, long at, string origin, long? keepUntil) => new()
    {
        Target = target,
        Kind = RecordKind.Unban,
        Version = at,
        Origin = origin,
        KeepUntil = keepUntil,
    };

    public BanEntry ToEntry() => new()
    {
        Target = Target,
        Daemons = Daemons,
        Reason = Reason,
        Origin = Origin,
        Created = DateTimeOffset.FromUnixTimeMilliseconds(Version),
        Expires = Expires is { } x ? DateTimeOffset.FromUnixTimeMilliseconds(x) : null,
        Offences = Offences,
    };

    public BanChange ToChange() => Kind == RecordKind.Ban
        ? new BanChange { Kind = BanChangeKind.Banned, Target = Target, Entry = ToEntry(), At = DateTimeOffset.FromUnixTimeMilliseconds(Version), Origin = Origin }
        : new BanChange { Kind = BanChangeKind.Unbanned, Target = Target, At = DateTimeOffset.FromUnixTimeMilliseconds(Version), Origin = Origin };

    /// <summary>True when this record wins over <paramref name="other"/> (null loses to anything).</summary>
    public bool IsNewerThan(FleetRecord? other)
    {
        if (other is null)
            return true;
        if (Version != other.Version)
            return Version > other.Version;
        // The same millisecond: an unban follows the ban it ends (the store refuses an unban of nothing).
        if (Kind != other.Kind)
            return Kind == RecordKind.Unban;
        return string.CompareOrdinal(Origin, other.Origin) > 0;
    }

    /// <summary>
    /// The longest record read, in characters (the JSON is ASCII: bytes too). What a member writes is
    /// bounded by the store (reason and origin 1,025 characters, 64 daemon names of 64, each character at
    /// most 6 when escaped: under 40,000); a longer value is planted or damaged, and is refused before
    /// it is decoded. A 5 MB reason was taken, and written to the ledger as a line its reader skips.
    /// </summary>
    public const int MaxLength = 64 * 1024;

    public string ToJson(bool localOnly = false)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("t", Target.ToString());
            w.WriteString("k", Kind == RecordKind.Ban ? "B" : "U");
            w.WriteNumber("v", Version);
            w.WriteString("o", Origin);
            if (Kind == RecordKind.Ban)
            {
                if (Daemons is { } d)
                {
                    w.WriteStartArray("d");
                    foreach (var name in d)
                        w.WriteStringValue(name);
                    w.WriteEndArray();
                }
                w.WriteString("r", Reason);
                if (Expires is { } x)
                    w.WriteNumber("x", x);
                w.WriteNumber("n", Offences);
            }
            if (KeepUntil is { } keep)
                w.WriteNumber("keep", keep);
            if (Claimed is { } claimed)
                w.WriteNumber("fv", claimed);
            if (localOnly)
                w.WriteBoolean("local", true);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads a record; a malformed one (a rogue or broken member, a damaged line) gives null and a reason.</summary>
    public static FleetRecord? Parse(string json, out bool localOnly, out string error)
    {
        localOnly = false;
        if (json.Length > MaxLength)
            return Fail(TooLong(json.Length), out error);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return Fail("not a JSON object", out error);
            if (!BanTarget.TryParse(Str(root, "t"), out var target, out var targetError))
                return Fail(targetError, out error);
            var kind = Str(root, "k") switch { "B" => RecordKind.Ban, "U" => RecordKind.Unban, _ => (RecordKind?)null };
            if (kind is null || !root.TryGetProperty("v", out var v) || !v.TryGetInt64(out var version) || version <= 0)
                return Fail("missing kind or version", out error);
            // Every time must be one a DateTimeOffset holds: a record is turned into a BanChange, and
            // one out of range threw there, which stopped the fleet's worker (and held JoinAsync for ever).
            var expires = Long(root, "x");
            var keepUntil = Long(root, "keep");
            var claimed = Long(root, "fv");
            if (version > LastMs || expires is < FirstMs or > LastMs || keepUntil is < 0 or > LastMs || claimed is <= 0 or > LastMs)
                return Fail($"a time out of range (version {version}, expiry {expires}, keep {keepUntil})", out error);
            localOnly = root.TryGetProperty("local", out var l) && l.ValueKind == JsonValueKind.True;
            error = "";
            return new FleetRecord
            {
                Target = target,
                Kind = kind.Value,
                Version = version,
                Origin = Str(root, "o") ?? "",
                Daemons = root.TryGetProperty("d", out var d) && d.ValueKind == JsonValueKind.Array
                    ? [.. d.EnumerateArray().Select(e => e.GetString() ?? "")] : null,
                Reason = Str(root, "r") ?? "",
                Expires = expires,
                Offences = root.TryGetProperty("n", out var n) && n.TryGetInt32(out var offences) && offences > 0 ? offences : 1,
                KeepUntil = keepUntil,
                Claimed = claimed,
            };
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // A value of the wrong JSON type, or no JSON at all: the record is refused, nothing else.
            return Fail(ex.Message, out error);
        }
    }

    // The Unix ms of 0001-01-01 and of the last millisecond of 9999-12-31: the range of DateTimeOffset.
    private const long FirstMs = -62135596800000;
    private const long LastMs = 253402300799999;

    public static string TooLong(long length) => $"{length} characters long: a fleet record has at most {MaxLength}";

    public static FleetRecord? Fail(string message, out string error)
    {
        error = message;
        return null;
    }

    private static string? Str(JsonElement o, string name) =>
        o.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;

    private static long? Long(JsonElement o, string name) =>
        o.TryGetProperty(name, out var p) && p.TryGetInt64(out var x) ? x : null;
}
