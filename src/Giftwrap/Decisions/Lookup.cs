// The lookups a decision may need before it can be completed, and the interfaces
// through which hosts perform them. The core never performs a lookup itself.
namespace Giftwrap.Decisions;

/// <summary>A fact that evaluation needed and the request did not carry.</summary>
public enum LookupKind
{
    /// <summary>Nothing is missing.</summary>
    None,
    /// <summary>The client host name (reverse DNS, verified forward).</summary>
    ClientName,
    /// <summary>The server host name.</summary>
    ServerName,
    /// <summary>The client user, by RFC 1413 ident.</summary>
    ClientUser,
}

/// <summary>A verified host name and what libwrap's sock_hostname() logged while finding it.</summary>
/// <param name="Name">The name, <c>unknown</c> or <c>paranoid</c>.</param>
/// <param name="Warning">
/// libwrap's words for a name that did not verify (e.g. <c>host name/name mismatch: a != b</c>), or <c>null</c>.
/// Evaluation reports it as a warning of the rule that needed the name, as tcpd_warn() does.
/// </param>
public readonly record struct HostNameLookup(string Name, string? Warning);

/// <summary>Looks up host names and users for a request; implemented by the hosts (gate, tcpd mode).</summary>
public interface IRequestLookups
{
    /// <summary>The verified host name of <paramref name="address"/>: the name, <c>unknown</c> or <c>paranoid</c>.</summary>
    ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="HostNameAsync"/>, with the warning libwrap logs when the name does not verify.
    /// Evaluation calls this one; the default has no warning.
    /// </summary>
    async ValueTask<HostNameLookup> LookUpHostNameAsync(string address, CancellationToken cancellationToken) =>
        new(await HostNameAsync(address, cancellationToken).ConfigureAwait(false), null);

    /// <summary>The client user by RFC 1413 ident, or <c>unknown</c>; <paramref name="timeout"/> bounds the wait.</summary>
    ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken);
}
