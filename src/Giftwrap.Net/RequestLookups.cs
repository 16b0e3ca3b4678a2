// The lookups the core asks for (IRequestLookups), done over the network: verified host names
// through HostNameVerifier and client users through RFC 1413 ident. The gate and tcpd mode hand
// an instance to evaluation; the core never opens a socket itself.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;

namespace Giftwrap.Net;

/// <summary>Performs the core's pending lookups with DNS (double-reverse verified) and ident.</summary>
public sealed class RequestLookups : IRequestLookups
{
    private readonly HostNameVerifier _names;
    private readonly IdentClient _ident;

    /// <summary>Creates the lookups from a shared verifier (it holds the cache) and an ident client.</summary>
    public RequestLookups(HostNameVerifier names, IdentClient ident)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(ident);
        _names = names;
        _ident = ident;
    }

    /// <inheritdoc/>
    /// <remarks>An address that does not parse has no name: <c>unknown</c>.</remarks>
    public ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken) =>
        IPAddress.TryParse(address, out var parsed)
            ? _names.VerifiedNameAsync(parsed, cancellationToken)
            : ValueTask.FromResult(AccessRequest.Unknown);

    /// <inheritdoc/>
    /// <remarks>An address that does not parse has no name: <c>unknown</c>.</remarks>
    public ValueTask<HostNameLookup> LookUpHostNameAsync(string address, CancellationToken cancellationToken) =>
        IPAddress.TryParse(address, out var parsed)
            ? _names.VerifyAsync(parsed, cancellationToken)
            : ValueTask.FromResult(new HostNameLookup(AccessRequest.Unknown, null));

    /// <inheritdoc/>
    /// <remarks>Without both addresses and ports the question cannot be asked: <c>unknown</c>.</remarks>
    public ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!TryEndPoint(request.ClientAddress, request.ClientPort, out var client)
            || !TryEndPoint(request.ServerAddress, request.ServerPort, out var server))
        {
            return ValueTask.FromResult(AccessRequest.Unknown);
        }
        return _ident.UserAsync(client, server, timeout, cancellationToken);
    }

    private static bool TryEndPoint(string? address, int port, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? endPoint)
    {
        endPoint = null;
        if (port is < 1 or > 65535 || !IPAddress.TryParse(address, out var parsed))
            return false;
        endPoint = new IPEndPoint(parsed, port);
        return true;
    }
}
