// The fleet's settings from the [bans] section of the gate's configuration file:
// `redis` (a StackExchange.Redis connection string; absent means no fleet), `fleet_rate`
// (the cap on bans this member sends into the fleet), `fleet_key` (the Redis key prefix
// shared by one fleet) and `fleet_resync` (how often a full exchange runs besides reconnects).
// Reading reports every error with its file and line; the local store reads the other keys.
using System.Globalization;

namespace Giftwrap.Bans.Redis;

/// <summary>How a member joins a fleet.</summary>
public sealed record FleetOptions
{
    /// <summary>The StackExchange.Redis connection string (host:port[,option=value...]).</summary>
    public required string Redis { get; init; }

    /// <summary>The prefix of the Redis keys of one fleet: `PREFIX:list` (hash) and `PREFIX:changes` (channel).</summary>
    public string KeyPrefix { get; init; } = "giftwrap:bans";

    /// <summary>The most bans this member sends into the fleet per <see cref="FleetRate.Window"/>; excess bans stay local and are reported.</summary>
    public FleetRate Rate { get; init; } = new(100, TimeSpan.FromMinutes(1));

    /// <summary>How often a full exchange with the fleet runs even when the connection never dropped (pub/sub is fire-and-forget).</summary>
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How long an unban of a permanent ban is remembered, so that a late copy of the old ban is refused.</summary>
    public TimeSpan TombstoneKeep { get; init; } = TimeSpan.FromDays(30);

    /// <summary>The member's durable record of what it knows of the fleet; null puts it beside the store (`DIR/fleet.ledger`).</summary>
    public string? LedgerPath { get; init; }
}

/// <summary>A rate: <see cref="Count"/> events per <see cref="Window"/>; a count of 0 means no cap.</summary>
public readonly record struct FleetRate(int Count, TimeSpan Window)
{
    public bool Unlimited => Count <= 0;

    /// <summary>Parses "100/min", "5/s", "1000/h", "20000/d" or "unlimited".</summary>
    public static bool TryParse(string? text, out FleetRate rate, out string error)
    {
        rate = default;
        error = "";
        var t = (text ?? "").Trim().ToLowerInvariant();
        if (t is "unlimited" or "off")
            return true;
        var slash = t.IndexOf('/', StringComparison.Ordinal);
        TimeSpan? window = slash < 0 ? null : t[(slash + 1)..].Trim() switch
        {
            "s" or "sec" or "second" => TimeSpan.FromSeconds(1),
            "m" or "min" or "minute" => TimeSpan.FromMinutes(1),
            "h" or "hour" => TimeSpan.FromHours(1),
            "d" or "day" => TimeSpan.FromDays(1),
            _ => null,
        };
        if (window is null || !int.TryParse(t.AsSpan(0, slash).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
        {
            error = $"\"{text}\" is not a rate (such as 100/min, 5/s, 1000/h, or unlimited)";
            return false;
        }
        rate = new FleetRate(n, window.Value);
        return true;
    }

    public override string ToString() => Unlimited ? "unlimited" : $"{Count.ToString(CultureInfo.InvariantCulture)}/{Window}";
}

/// <summary>Reads <see cref="FleetOptions"/> from the [bans] section of the gate's INI file.</summary>
public static class FleetOptionsReader
{
    /// <summary>
    /// The fleet options of <paramref name="lines"/> (the file's text, named <paramref name="path"/>
    /// in errors), or null when [bans] has no `redis` key (this host is not in a fleet).
    /// Every error is listed as "file:line: message"; with errors the result is not to be used.
    /// </summary>
    public static FleetOptions? Parse(string path, IReadOnlyList<string> lines, out IReadOnlyList<string> errors)
    {
        var list = new List<string>();
        errors = list;
        string? redis = null;
        var options = new FleetOptions { Redis = "" };
        foreach (var (key, value, line) in BanOptionsReader.Section([.. lines], "bans"))
        {
            var where = $"{path}:{line.ToString(CultureInfo.InvariantCulture)}";
            switch (key)
            {
                case "redis":
                    if (value.Length == 0)
                        list.Add($"{where}: redis needs a connection string such as 127.0.0.1:6379");
                    redis = value;
                    break;
                case "fleet_rate":
                    if (FleetRate.TryParse(value, out var rate, out var error))
                        options = options with { Rate = rate };
                    else
                        list.Add($"{where}: fleet_rate: {error}");
                    break;
                case "fleet_key":
                    if (value.Length == 0)
                        list.Add($"{where}: fleet_key needs a key prefix");
                    else
                        options = options with { KeyPrefix = value };
                    break;
                case "fleet_resync":
                    if (BanDuration.TryParse(value, out var every, out _) && every is { } e)
                        options = options with { ResyncInterval = e };
                    else
                        list.Add($"{where}: fleet_resync must be a duration such as 30s, 5m; found \"{value}\"");
                    break;
                default:
                    break; // the local store's keys (store, protect, ...): BanOptionsReader reads them
            }
        }
        return string.IsNullOrEmpty(redis) ? null : options with { Redis = redis };
    }

    /// <summary>Reads the file at <paramref name="path"/>; a missing file means no fleet.</summary>
    public static FleetOptions? Read(string path, out IReadOnlyList<string> errors)
    {
        try
        {
            return Parse(path, File.ReadAllLines(path), out errors);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // No configuration at all: a host on its own, as the gate would run it.
            errors = [];
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors = [$"{path}: cannot read: {ex.Message}"];
            return null;
        }
    }
}
