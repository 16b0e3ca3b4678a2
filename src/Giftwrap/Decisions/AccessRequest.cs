// What is known about one connection when it is judged: the daemon, both endpoints,
// and the names and user that may still be looked up. Plain data; the hosts fill it
// in (from a socket, from tcpdmatch-style arguments, from a batch line).
using System.Net;

namespace Giftwrap.Decisions;

/// <summary>
/// The facts of one request. A <c>null</c> name or user means "not looked up yet": when the
/// host can look it up, evaluation asks for it (<see cref="Decision.PendingLookup"/>); otherwise it
/// counts as <c>unknown</c>, as in libwrap. The strings <c>unknown</c> and <c>paranoid</c> are
/// libwrap's own values for a name that could not be found or did not match its address.
/// </summary>
public sealed record AccessRequest
{
    /// <summary>libwrap's STRING_LENGTH: every field is cut to 127 bytes, as request_set() does.</summary>
    public const int MaxFieldLength = 127;

    /// <summary>The value of a fact that could not be found.</summary>
    public const string Unknown = "unknown";

    /// <summary>The host name of a client whose name and address do not agree.</summary>
    public const string Paranoid = "paranoid";

    /// <summary>The daemon process name (argv[0] of the real server), e.g. <c>sshd</c>.</summary>
    public string Daemon { get; init; } = Unknown;

    /// <summary>The client address in text form, or <c>null</c> when unknown.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>The client host name; <c>null</c> until looked up.</summary>
    public string? ClientName { get; init; }

    /// <summary>The client user (RFC 1413); <c>null</c> until looked up.</summary>
    public string? ClientUser { get; init; }

    /// <summary>The client port, 0 when unknown.</summary>
    public int ClientPort { get; init; }

    /// <summary>The server (local) address, or <c>null</c> when unknown.</summary>
    public string? ServerAddress { get; init; }

    /// <summary>The server host name; <c>null</c> until looked up.</summary>
    public string? ServerName { get; init; }

    /// <summary>The server port, 0 when unknown.</summary>
    public int ServerPort { get; init; }

    /// <summary>The process id that <c>%p</c> shows; 0 means the current process.</summary>
    public int ProcessId { get; init; }

    /// <summary>Whether a missing name or user may be looked up (a live connection) or is simply unknown (a dry run).</summary>
    public bool CanLookUp { get; init; }

    // Where in libwrap's one-pass evaluation each looked-up fact became known: a re-evaluation
    // after a lookup must not let earlier steps (a %h before the %n that asked for the name) see it.
    internal int ClientNameStep { get; init; }
    internal int ServerNameStep { get; init; }
    internal int ClientUserStep { get; init; }

    /// <summary>
    /// The request of a live connection to <paramref name="daemon"/>: both endpoints (null where there
    /// is none, e.g. a Unix socket: libwrap's unknown), IPv4-mapped IPv6 addresses in their IPv4 form
    /// as tcpd shows them, names and user left to be looked up.
    /// </summary>
    public static AccessRequest ForConnection(string daemon, IPEndPoint? client, IPEndPoint? server) => new()
    {
        Daemon = daemon,
        ClientAddress = client is null ? null : Plain(client.Address),
        ClientPort = client?.Port ?? 0,
        ServerAddress = server is null ? null : Plain(server.Address),
        ServerPort = server?.Port ?? 0,
        CanLookUp = true,
    };

    /// <summary>An address as tcpd shows it: an IPv4-mapped IPv6 address in its IPv4 form.</summary>
    internal static string Plain(IPAddress a) => (a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a).ToString();

    /// <summary>Cuts a field to libwrap's 127 bytes.</summary>
    internal static string Cut(string value) =>
        value.Length <= MaxFieldLength ? value : value[..MaxFieldLength];
}
