// The fleet's settings from the [bans] section of the gate's configuration file:
// `redis` (a StackExchange.Redis connection string; absent means no fleet), `fleet_rate`
// (the cap on bans this member sends into the fleet), `fleet_key` (the Redis key prefix
// shared by one fleet), `fleet_resync` (how often a full exchange runs besides reconnects) and
// `fleet_max_skew` (how far ahead of this clock a record's date is taken as it is).
// The keys are declared with the others in Giftwrap.Configuration.ConfigSchema and read by
// its one reader; what a rate is stays here.
using System.Globalization;
using Giftwrap.Configuration;

namespace Giftwrap.Bans.Redis;

/// <summary>How a member joins a fleet.</summary>
public sealed record FleetOptions
{
    /// <summary>The StackExchange.Redis connection string (host:port[,option=value...]; behind Sentinel, the sentinels and serviceName=NAME).</summary>
    public required string Redis { get; init; }

    /// <summary>The prefix of the Redis keys of one fleet: `PREFIX:list` (hash), `PREFIX:changes` (channel) and `PREFIX:epoch` (a marker of the list's lifetime).</summary>
    public string KeyPrefix { get; init; } = "giftwrap:bans";

    /// <summary>The most bans this member sends into the fleet per <see cref="FleetRate.Window"/>; excess bans stay local and are reported.</summary>
    public FleetRate Rate { get; init; } = new(100, TimeSpan.FromMinutes(1));

    /// <summary>How often a full exchange with the fleet runs even when the connection never dropped (pub/sub is fire-and-forget).</summary>
    public TimeSpan ResyncInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How far ahead of this member's clock a remote record's change time is taken as given. A record dated
    /// further ahead (a broken clock, a record planted for year 9999) is still applied, ban or unban, but
    /// ordered as made at this clock plus this skew, so that it cannot win over every later change of its target.
    /// </summary>
    public TimeSpan MaxSkew { get; init; } = TimeSpan.FromMinutes(10);

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
    /// Every error is listed as "file:line:column: message"; with errors the result is not to be used.
    /// </summary>
    public static FleetOptions? Parse(string path, IReadOnlyList<string> lines, out IReadOnlyList<string> errors)
    {
        var file = ConfigFile.Parse(path, lines);
        var options = FromFile(file);
        errors = file.Errors;
        return options;
    }

    /// <summary>Reads the file at <paramref name="path"/> (with GIFTWRAP_bans__KEY variables on top); a missing file means no fleet.</summary>
    public static FleetOptions? Read(string path, out IReadOnlyList<string> errors)
    {
        var file = ConfigFile.Read(path, ConfigOverride.FromEnvironment(), missingIsEmpty: true);
        var options = FromFile(file);
        errors = file.Errors;
        return options;
    }

    /// <summary>The fleet settings of a configuration already read; problems go to <see cref="ConfigFile.Errors"/>.</summary>
    internal static FleetOptions? FromFile(ConfigFile file)
    {
        const string S = "bans";
        if (file.Get(S, "redis") is not { } redis)
            return null;
        var options = new FleetOptions
        {
            Redis = redis,
            KeyPrefix = file.Text(S, "fleet_key")!,
            ResyncInterval = file.Duration(S, "fleet_resync"),
            MaxSkew = file.Duration(S, "fleet_max_skew"),
        };
        try
        {
            StackExchange.Redis.ConfigurationOptions.Parse(redis);
        }
        catch (ArgumentException ex)
        {
            // A connection string the client cannot read: say why here, not at the first ban.
            file.Error(S, "redis", $"redis: {ex.Message}");
        }
        if (FleetRate.TryParse(file.Text(S, "fleet_rate"), out var rate, out var error))
            options = options with { Rate = rate };
        else
            file.Error(S, "fleet_rate", $"fleet_rate: {error}");
        return options;
    }
}
