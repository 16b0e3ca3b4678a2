// The seam between the gatekeeper and a ban list: checked before the tables, fed by the
// `ban DURATION` rule option. The local store (Giftwrap.AspNetCore.Bans) implements it;
// with none registered nobody is banned and the `ban` option only says so in the log.
using System.Net;

namespace Giftwrap.AspNetCore;

/// <summary>
/// Bans the gatekeeper consults before the tables and adds to when a rule says <c>ban DURATION</c>.
/// Register one in the services (Giftwrap.AspNetCore.Bans does: <c>AddGiftwrap().AddBans(...)</c>).
/// Called on every connection: both methods must be thread-safe and must not block on the network.
/// </summary>
public interface IBanList
{
    /// <summary>Why <paramref name="client"/> is banned for <paramref name="daemon"/>, or null when it is not.</summary>
    string? Check(IPAddress client, string daemon);

    /// <summary>Bans <paramref name="client"/> for <paramref name="duration"/>; returns what happened, for the log line.</summary>
    string Ban(IPAddress client, TimeSpan duration, string reason);
}
