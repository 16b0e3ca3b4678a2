// The two questions host-name verification asks of DNS: the PTR names of an address and
// the A/AAAA addresses of a name. Implementations answer them; they do not verify, cache
// or time out on their own (HostNameVerifier does that, with the caller's token).
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Net.Dns;

/// <summary>What getaddrinfo(name, AI_CANONNAME) with one address family gives: the canonical name and the addresses.</summary>
/// <param name="CanonicalName">The name the addresses belong to (after CNAMEs or /etc/hosts aliases), or <c>null</c>.</param>
/// <param name="Addresses">The addresses of the family asked for; empty when the name has none.</param>
public sealed record ForwardAnswer(string? CanonicalName, IReadOnlyList<IPAddress> Addresses);

/// <summary>
/// Asks DNS (or the system resolver) for the names of an address and the addresses of a name.
/// "No such name" and "no records" are an empty list; a lookup that could not be completed
/// (server failure, malformed or truncated reply, network error) throws <see cref="DnsLookupException"/>,
/// and cancellation throws <see cref="OperationCanceledException"/>.
/// </summary>
public interface IDnsClient
{
    /// <summary>The PTR names of <paramref name="address"/>, without the trailing dot; empty when there are none.</summary>
    Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken);

    /// <summary>The A and AAAA addresses of <paramref name="name"/>; empty when the name does not exist or has none.</summary>
    Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken);

    /// <summary>
    /// The canonical name of <paramref name="name"/> and its addresses of one <paramref name="family"/>, as
    /// libwrap's sock_hostname() asks getaddrinfo(AI_CANONNAME). The default takes <paramref name="name"/>
    /// itself as canonical; clients that know better (CNAMEs, /etc/hosts aliases) override it.
    /// </summary>
    async Task<ForwardAnswer> ForwardCanonicalAsync(string name, AddressFamily family, CancellationToken cancellationToken)
    {
        var all = await ForwardAsync(name, cancellationToken).ConfigureAwait(false);
        List<IPAddress> same = [.. all.Where(a => a.AddressFamily == family)];
        return new ForwardAnswer(same.Count == 0 ? null : name, same);
    }
}

/// <summary>Why a DNS lookup could not be completed.</summary>
public enum DnsFailure
{
    /// <summary>The server answered with an error other than "no such name" (SERVFAIL, REFUSED, ...).</summary>
    ServerFailure,
    /// <summary>The reply had the truncation bit set; this client does not retry over TCP.</summary>
    Truncated,
    /// <summary>The reply to our question could not be parsed, or too many stray datagrams arrived.</summary>
    Malformed,
    /// <summary>The request could not be sent or the reply not received (e.g. ICMP port unreachable).</summary>
    Network,
}

/// <summary>A DNS lookup that could not be completed; see <see cref="Reason"/>.</summary>
public sealed class DnsLookupException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsLookupException(DnsFailure reason, string message, Exception? innerException = null)
        : base(message, innerException) => Reason = reason;

    /// <summary>Creates the exception with a generic message.</summary>
    public DnsLookupException() : this(DnsFailure.ServerFailure, "DNS lookup failed") { }

    /// <summary>Creates the exception.</summary>
    public DnsLookupException(string message) : this(DnsFailure.ServerFailure, message) { }

    /// <summary>Creates the exception.</summary>
    public DnsLookupException(string message, Exception innerException) : this(DnsFailure.ServerFailure, message, innerException) { }

    /// <summary>Why the lookup failed.</summary>
    public DnsFailure Reason { get; }
}
