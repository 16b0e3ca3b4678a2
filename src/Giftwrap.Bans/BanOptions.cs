// The [bans] section of the gate's configuration file as an immutable value, and how it
// is taken from the one configuration reader (Giftwrap.Configuration.ConfigFile), which
// declares the keys and checks their values; only what a ban target is stays here.
using Giftwrap.Configuration;

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

/// <summary>Reads <see cref="BanOptions"/> from the [bans] section of the configuration.</summary>
public static class BanOptionsReader
{
    /// <summary>
    /// Reads [bans] from <paramref name="path"/>, with GIFTWRAP_bans__KEY environment variables on top
    /// (as `giftwrap serve` reads them, so a ban goes to the store the gate checks). A missing file gives
    /// the defaults when <paramref name="mustExist"/> is false (the default path on a host without a gate).
    /// The whole file is checked, not only [bans]: every error is listed, each as "file:line:column: message",
    /// and with errors the options returned are not to be used.
    /// </summary>
    public static BanOptions Read(string path, bool mustExist, out IReadOnlyList<string> errors)
    {
        var file = ConfigFile.Read(path, ConfigOverride.FromEnvironment(), missingIsEmpty: !mustExist);
        var options = FromFile(file);
        errors = file.Errors;
        return options;
    }

    /// <summary>The [bans] settings of a configuration already read; problems go to <see cref="ConfigFile.Errors"/>.</summary>
    internal static BanOptions FromFile(ConfigFile file)
    {
        const string S = "bans";
        var options = new BanOptions
        {
            Store = file.Text(S, "store")!,
            BanTime = file.Duration(S, "ban_time"),
            IncrementFactor = file.Number(S, "increment_factor"),
            MaxTime = file.Duration(S, "max_time"),
            AggregateV6Threshold = file.Count(S, "aggregate_v6_threshold"),
            ProtectLoopback = file.YesNo(S, "protect_loopback"),
            HostsDeny = file.PathOrOff(S, "hosts_deny"),
        };
        if (options.AggregateV6Threshold == 1)
            file.Error(S, "aggregate_v6_threshold", "aggregate_v6_threshold must be 0 (off) or a count of 2 or more; found 1");
        if (file.Get(S, "protect") is { } protect)
        {
            var targets = new List<BanTarget>();
            foreach (var part in ConfigFile.Split(protect))
            {
                if (BanTarget.TryParse(part, out var t, out var error))
                    targets.Add(t);
                else
                    file.Error(S, "protect", $"protect: {error}");
            }
            options = options with { Protect = targets };
        }
        return options;
    }
}
