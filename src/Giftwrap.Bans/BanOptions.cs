// The [bans] section of the gate's configuration file as an immutable value, and how it
// is read. The gate's own reader (Giftwrap.Gate) ignores [bans]; this small reader takes
// the same INI dialect (";" or "#" comments, also after a value when preceded by
// whitespace) and reports every error with its file and line.
using System.Globalization;

namespace Giftwrap.Bans;

/// <summary>Settings of the local ban store.</summary>
public sealed record BanOptions
{
    /// <summary>The default configuration file, the one `giftwrap serve` reads.</summary>
    public const string DefaultConfigPath = "/etc/giftwrap/giftwrap.conf";

    /// <summary>The directory holding the journal, the snapshot and the lock file.</summary>
    public string Store { get; init; } = "/var/lib/giftwrap";

    /// <summary>The duration of a first ban when none is given.</summary>
    public TimeSpan BanTime { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Each repeat offence multiplies the ban time by this factor (1 turns escalation off).</summary>
    public double IncrementFactor { get; init; } = 2;

    /// <summary>Escalation never goes past this (an explicit longer --for is kept).</summary>
    public TimeSpan MaxTime { get; init; } = TimeSpan.FromDays(7);

    /// <summary>When this many addresses of one IPv6 /64 are banned they become one /64 ban; 0 turns it off.</summary>
    public int AggregateV6Threshold { get; init; }

    /// <summary>Addresses that can never be banned, besides loopback (protected unless <see cref="ProtectLoopback"/> is off).</summary>
    public IReadOnlyList<BanTarget> Protect { get; init; } = [];

    /// <summary>Loopback is protected by default; `protect_loopback = no` lifts that (test rigs that play hosts on 127.x).</summary>
    public bool ProtectLoopback { get; init; } = true;

    /// <summary>A hosts.deny file whose marked block follows the ban list; null for none.</summary>
    public string? HostsDeny { get; init; }

    /// <summary>How often a watching store looks at the journal for other processes' changes.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>The name recorded as the origin of local bans.</summary>
    public string Origin { get; init; } = Environment.MachineName;

    /// <summary>The clock (tests replace it).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>Loopback, protected by default: banning it locks the host out of itself.</summary>
    public static IReadOnlyList<BanTarget> AlwaysProtected { get; } =
        [BanTarget.Parse("127.0.0.0/8"), BanTarget.Parse("::1")];
}

/// <summary>Reads <see cref="BanOptions"/> from the [bans] section of an INI file.</summary>
public static class BanOptionsReader
{
    /// <summary>
    /// Reads [bans] from <paramref name="path"/>. A missing file gives the defaults when
    /// <paramref name="mustExist"/> is false (the default path on a host without a gate).
    /// Every error is listed, each as "file:line: message"; with errors the options returned are not to be used.
    /// </summary>
    public static BanOptions Read(string path, bool mustExist, out IReadOnlyList<string> errors)
    {
        var list = new List<string>();
        errors = list;
        var options = new BanOptions();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException && !mustExist)
        {
            // No configuration file at the default place: the defaults, as the gate would have them.
            return options;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            list.Add($"{path}: cannot read: {ex.Message}");
            return options;
        }
        foreach (var (key, value, line) in Section(lines, "bans"))
            options = Apply(options, key, value, $"{path}:{line}", list);
        return options;
    }

    /// <summary>The keys of one [section] (lowercased), with their values and 1-based lines; the fleet reads [bans] with it too.</summary>
    internal static IEnumerable<(string Key, string Value, int Line)> Section(string[] lines, string wanted)
    {
        string? section = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = StripComment(lines[i]).Trim();
            if (line.StartsWith('[') && line.EndsWith(']'))
            {
                section = line[1..^1].Trim();
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && string.Equals(section, wanted, StringComparison.OrdinalIgnoreCase))
                yield return (line[..eq].Trim().ToLowerInvariant(), line[(eq + 1)..].Trim(), i + 1);
        }
    }

    private static BanOptions Apply(BanOptions o, string key, string value, string where, List<string> errors)
    {
        switch (key)
        {
            case "store":
                return value.Length > 0 ? o with { Store = value } : Error(o, $"{where}: store needs a directory", errors);
            case "ban_time":
                return BanDuration.TryParse(value, out var bt, out _) && bt is { } b
                    ? o with { BanTime = b } : Error(o, $"{where}: ban_time must be a duration such as 10m, 1h, 1d; found \"{value}\"", errors);
            case "max_time":
                return BanDuration.TryParse(value, out var mt, out _) && mt is { } m
                    ? o with { MaxTime = m } : Error(o, $"{where}: max_time must be a duration such as 1d, 1w; found \"{value}\"", errors);
            case "increment_factor":
                return double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var f) && f >= 1 && f <= 1000
                    ? o with { IncrementFactor = f } : Error(o, $"{where}: increment_factor must be a number from 1 to 1000; found \"{value}\"", errors);
            case "aggregate_v6_threshold":
                return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n != 1
                    ? o with { AggregateV6Threshold = n } : Error(o, $"{where}: aggregate_v6_threshold must be 0 (off) or a count of 2 or more; found \"{value}\"", errors);
            case "hosts_deny":
                return o with { HostsDeny = value.Length > 0 && !value.Equals("off", StringComparison.OrdinalIgnoreCase) ? value : null };
            case "protect":
                return Protect(o, value, where, errors);
            case "protect_loopback":
                return value.ToLowerInvariant() switch
                {
                    "yes" or "true" or "on" => o with { ProtectLoopback = true },
                    "no" or "false" or "off" => o with { ProtectLoopback = false },
                    _ => Error(o, $"{where}: protect_loopback must be yes or no; found \"{value}\"", errors),
                };
            default:
                // Keys of the future fleet layer (redis, ...) belong to it: not an error here.
                return o;
        }
    }

    private static BanOptions Protect(BanOptions o, string value, string where, List<string> errors)
    {
        var targets = new List<BanTarget>();
        foreach (var part in value.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            if (BanTarget.TryParse(part, out var t, out var error))
                targets.Add(t);
            else
                errors.Add($"{where}: protect: {error}");
        }
        return o with { Protect = targets };
    }

    private static BanOptions Error(BanOptions o, string message, List<string> errors)
    {
        errors.Add(message);
        return o;
    }

    private static string StripComment(string line)
    {
        var t = line.TrimStart();
        if (t.StartsWith(';') || t.StartsWith('#'))
            return "";
        for (var i = 1; i < line.Length; i++)
        {
            if ((line[i] == ';' || line[i] == '#') && char.IsWhiteSpace(line[i - 1]))
                return line[..i];
        }
        return line;
    }
}
