// What the gate needs of a ban list: is this client banned (checked before the
// tables), and ban this client (the `ban DURATION` option). The ban store and the
// fleet live in their own projects; the gate sees only this.
using System.Net;

namespace Giftwrap.Gate.Connections;

/// <summary>The bans the gate honours and adds to.</summary>
public interface IGateBans
{
    /// <summary>Why <paramref name="client"/> is banned for <paramref name="daemon"/>, or null when it is not.</summary>
    string? Check(IPAddress client, string daemon);

    /// <summary>Bans <paramref name="client"/> for <paramref name="duration"/> (a rule's ban option). Returns what happened, for the log.</summary>
    string Ban(IPAddress client, TimeSpan duration, string reason, string daemon);
}
