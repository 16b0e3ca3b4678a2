// What the fleet layer reports to its host (the gate logs it, `giftwrap bans` may show it):
// refused remote changes, bans kept local by the rate cap, malformed records, syncs.
namespace Giftwrap.Bans.Redis;

/// <summary>The kind of a <see cref="FleetNotice"/>.</summary>
public enum FleetNoticeKind
{
    /// <summary>A remote change was refused: it names a protected address.</summary>
    Refused,

    /// <summary>A local ban went past the fleet rate cap: it is enforced here and not sent.</summary>
    KeptLocal,

    /// <summary>A record from Redis could not be read (a broken or rogue member); it was ignored.</summary>
    Malformed,

    /// <summary>A full exchange with the fleet finished.</summary>
    Synced,

    /// <summary>The connection to Redis was lost: the member enforces what it knows and queues its changes.</summary>
    Disconnected,
}

/// <summary>One event of the fleet layer.</summary>
public sealed record FleetNotice(FleetNoticeKind Kind, BanTarget? Target, string Origin, string Message);

/// <summary>Counters of a member's fleet layer since it joined.</summary>
public sealed record FleetStatus(
    bool Connected,
    long Published,
    long Received,
    long Refused,
    long KeptLocal,
    long Malformed,
    long Syncs,
    DateTimeOffset? LastSync);
