// The values the ban store hands out: a ban, a request for one, a change (for events
// and for a future fleet layer), and the outcome of an operation. Expected outcomes
// (protected address, nothing to unban) are values, not exceptions.
namespace Giftwrap.Bans;

/// <summary>One ban as the store knows it. Times are absolute, so hosts sharing bans agree on expiry.</summary>
public sealed record BanEntry
{
    public required BanTarget Target { get; init; }

    /// <summary>The daemon names the ban applies to; null means every daemon (ALL).</summary>
    public IReadOnlyList<string>? Daemons { get; init; }

    public string Reason { get; init; } = "";

    /// <summary>The host that made the ban (its machine name).</summary>
    public string Origin { get; init; } = "";

    public required DateTimeOffset Created { get; init; }

    /// <summary>When the ban ends; null for a permanent ban.</summary>
    public DateTimeOffset? Expires { get; init; }

    /// <summary>How many times this target has been banned (1 for a first offence).</summary>
    public int Offences { get; init; } = 1;

    public bool IsActive(DateTimeOffset now) => Expires is not { } e || e > now;

    /// <summary>True when the ban covers connections to <paramref name="daemon"/> (names compare case-insensitively, like libwrap).</summary>
    public bool AppliesTo(string daemon) =>
        Daemons is null || Daemons.Any(d => string.Equals(d, daemon, StringComparison.OrdinalIgnoreCase));

    /// <summary>Time left at <paramref name="now"/>; null for a permanent ban.</summary>
    public TimeSpan? TimeLeft(DateTimeOffset now) => Expires is { } e ? (e > now ? e - now : TimeSpan.Zero) : null;
}

/// <summary>What `giftwrap ban` asks for.</summary>
public sealed record BanRequest
{
    public required BanTarget Target { get; init; }

    /// <summary>The base duration before escalation; null uses <see cref="BanOptions.BanTime"/>.</summary>
    public TimeSpan? Duration { get; init; }

    /// <summary>A permanent ban (no expiry, no escalation needed).</summary>
    public bool Permanent { get; init; }

    /// <summary>
    /// Whether a repeat offence multiplies <see cref="Duration"/> ([bans] increment_factor). False
    /// for a decision made elsewhere with its own length (CrowdSec's), which is kept as given.
    /// </summary>
    public bool Escalate { get; init; } = true;

    public string Reason { get; init; } = "";

    /// <summary>Daemon names; null or empty means every daemon.</summary>
    public IReadOnlyList<string>? Daemons { get; init; }
}

/// <summary>The kind of a change to the ban list.</summary>
public enum BanChangeKind
{
    Banned,
    Unbanned,
}

/// <summary>
/// One change to the ban list: what a journal record holds, what <see cref="BanStore.Changed"/>
/// reports and what <see cref="BanStore.ApplyRemote"/> takes from a fleet member.
/// </summary>
public sealed record BanChange
{
    public required BanChangeKind Kind { get; init; }

    public required BanTarget Target { get; init; }

    /// <summary>The ban after the change (for <see cref="BanChangeKind.Banned"/>); null for an unban.</summary>
    public BanEntry? Entry { get; init; }

    /// <summary>When the change was made (for an unban, when it took effect).</summary>
    public required DateTimeOffset At { get; init; }

    /// <summary>The host that made the change.</summary>
    public string Origin { get; init; } = "";

    /// <summary>True when the change came from another host through <see cref="BanStore.ApplyRemote"/>; a fleet layer does not send these on.</summary>
    public bool IsRemote { get; init; }
}

/// <summary>Arguments of <see cref="BanStore.Changed"/>.</summary>
public sealed class BanChangedEventArgs(BanChange change, bool fromThisStore) : EventArgs
{
    public BanChange Change { get; } = change;

    /// <summary>True when this store instance wrote the change; false when it was read from the journal another process wrote.</summary>
    public bool FromThisStore { get; } = fromThisStore;
}

/// <summary>How an operation on the store ended.</summary>
public enum BanOutcome
{
    Banned,
    Unbanned,

    /// <summary>The target overlaps a protected address; nothing was written.</summary>
    Protected,

    /// <summary>Unban of a target that has no active ban; nothing was written.</summary>
    NotBanned,

    /// <summary>A remote change older than what the store already knows; nothing was written.</summary>
    Stale,

    /// <summary>The request itself is malformed (bad daemon name, ...); nothing was written.</summary>
    Invalid,
}

/// <summary>The result of <see cref="BanStore.Ban"/>, <see cref="BanStore.Unban"/> or <see cref="BanStore.ApplyRemote"/>.</summary>
public sealed record BanResult(BanOutcome Outcome, BanEntry? Entry, string Message)
{
    public bool Succeeded => Outcome is BanOutcome.Banned or BanOutcome.Unbanned;
}

/// <summary>A problem found in the store's files (a corrupt line, a truncated snapshot), with its place.</summary>
public sealed record StoreProblem(string File, int Line, string Message)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}: {Message}" : $"{File}: {Message}";
}
