// RFC 1413 ident: ask the client host which user owns its end of a connection. This client
// only asks and parses; believing the answer is the administrator's choice (user@host patterns).
// SECURITY: the peer is the client, so it may lie, stall or flood. The whole exchange is under one
// timeout, at most 1,000 bytes are read, and every failure is the value "unknown", never an exception.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;

namespace Giftwrap.Net.Ident;

/// <summary>Asks a client's ident server (RFC 1413) for the user behind a connection.</summary>
public sealed class IdentClient
{
    /// <summary>The ident port, RFC 1413.</summary>
    public const int DefaultPort = 113;

    /// <summary>RFC 1413 section 2: replies are at most 1,000 characters; anything longer is not a reply.</summary>
    public const int MaxReplyLength = 1000;

    /// <summary>Creates a client that asks ident servers on <paramref name="port"/> (113 but in tests).</summary>
    public IdentClient(int port = DefaultPort)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        Port = port;
    }

    /// <summary>The port ident servers are asked on.</summary>
    public int Port { get; }

    /// <summary>
    /// The user id that the ident server at <paramref name="client"/>'s address gives for the connection from
    /// <paramref name="client"/> to <paramref name="server"/>, or <c>unknown</c> (ERROR reply, malformed or
    /// oversized reply, wrong ports echoed, refused, closed, or no full line within <paramref name="timeout"/>).
    /// The query is sent from <paramref name="server"/>'s address, as RFC 1413 expects. The id is its first word,
    /// cut to 127 chars; one with control chars is <c>unknown</c>.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (a timeout is not an exception).</exception>
    public async ValueTask<string> UserAsync(IPEndPoint client, IPEndPoint server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(server);
        cancellationToken.ThrowIfCancellationRequested();
        if (timeout <= TimeSpan.Zero || client.Port == 0 || server.Port == 0)
            return AccessRequest.Unknown;
        var clientAddress = Normalize(client.Address);
        var serverAddress = Normalize(server.Address);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var socket = new Socket(clientAddress.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        var started = Stopwatch.GetTimestamp();
        try
        {
            if (serverAddress.AddressFamily == clientAddress.AddressFamily && !IsUnspecified(serverAddress))
                socket.Bind(new IPEndPoint(serverAddress, 0));
            await socket.ConnectAsync(new IPEndPoint(clientAddress, Port), deadline.Token).ConfigureAwait(false);
            // rfc931.c: fprintf(fp, "%u,%u\r\n", ...): no blanks around the comma (RFC 1413 allows both).
            var query = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{client.Port},{server.Port}\r\n"));
            await socket.SendAsync(query, SocketFlags.None, deadline.Token).ConfigureAwait(false);
            var line = await ReadLineAsync(socket, deadline.Token).ConfigureAwait(false);
            // A reply line is a lookup that worked, even when it says ERROR: the peer answered.
            GiftwrapMetrics.LookedUp(GiftwrapMetrics.Ident, line is null ? GiftwrapMetrics.Failed : GiftwrapMetrics.Ok, started);
            return line is null ? AccessRequest.Unknown : IdentReply.Parse(line, client.Port, server.Port);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            GiftwrapMetrics.LookedUp(GiftwrapMetrics.Ident, GiftwrapMetrics.TimedOut, started);
            return AccessRequest.Unknown; // Our timeout: a slow or silent peer.
        }
        catch (SocketException)
        {
            GiftwrapMetrics.LookedUp(GiftwrapMetrics.Ident, GiftwrapMetrics.Failed, started);
            return AccessRequest.Unknown; // Refused, reset, unreachable, or a server address we cannot bind.
        }
    }

    /// <summary>One line ending in LF (a CR before it dropped), or null at end of stream or past 1,000 bytes.</summary>
    private static async Task<byte[]?> ReadLineAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxReplyLength];
        var length = 0;
        while (length < buffer.Length)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                return null; // Closed before the line ended: RFC 1413 replies end in CRLF.
            }
            var newline = buffer.AsSpan(length, received).IndexOf((byte)'\n');
            length += received;
            if (newline >= 0)
            {
                var end = length - received + newline;
                if (end > 0 && buffer[end - 1] == '\r')
                    end--;
                return buffer.AsSpan(0, end).ToArray(); // not buffer[..end]: see TableFile.ReadBounded
            }
        }
        return null;
    }

    private static IPAddress Normalize(IPAddress address) =>
        address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool IsUnspecified(IPAddress address) =>
        address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any);
}
