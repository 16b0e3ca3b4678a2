// Real clients on loopback that pick their source address (loopback has all of 127/8, so
// 127.0.0.2 plays another host): a TLS client that records whether a certificate ever
// arrived, and a raw HTTP/1.1 client that sees exactly what the server sends and when it closes.
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Giftwrap.AspNetCore.Tests.Support;

/// <summary>What one exchange gave: the bytes received, whether the server closed, the failure if any, the server certificate if one came.</summary>
internal sealed record Exchange(string Response, bool ClosedByServer, Exception? Failure, X509Certificate? ServerCertificate)
{
    public int Status => Response.StartsWith("HTTP/1.", StringComparison.Ordinal) && Response.Length >= 12
        ? int.Parse(Response.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture)
        : 0;

    /// <summary>The body, with chunked transfer coding (RFC 9112 section 7.1) undone.</summary>
    public string Body
    {
        get
        {
            var end = Response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end < 0)
                return "";
            var body = Response[(end + 4)..];
            if (!Response[..end].Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
                return body;
            var plain = new StringBuilder();
            var at = 0;
            while (body.IndexOf("\r\n", at, StringComparison.Ordinal) is var eol and >= 0)
            {
                var size = Convert.ToInt32(body[at..eol].Split(';')[0], 16);
                if (size == 0)
                    break;
                plain.Append(body, eol + 2, size);
                at = eol + 2 + size + 2;
            }
            return plain.ToString();
        }
    }
}

internal static class Clients
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    public static IPAddress Source(string address) => IPAddress.Parse(address);

    public static async Task<Socket> ConnectAsync(IPAddress source, int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(source, 0));
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>TLS handshake then GET /; a refused client ends with the handshake's exception and no certificate.</summary>
    public static async Task<Exchange> TlsGetAsync(IPAddress source, int port)
    {
        Socket socket;
        try
        {
            socket = await ConnectAsync(source, port);
        }
        catch (SocketException ex)
        {
            // Refused so fast that the reset reached the socket before connect() reported success.
            return new Exchange("", true, ex, null);
        }
        using var owned = socket;
        X509Certificate? seen = null;
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false, (_, certificate, _, _) =>
        {
            seen = certificate;
            return true; // the sample's certificate is self-signed: what matters is whether one came at all
        });
        using var cts = new CancellationTokenSource(Patience);
        try
        {
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ApplicationProtocols = [SslApplicationProtocol.Http11],
            }, cts.Token);
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException)
        {
            return new Exchange("", true, ex, seen);
        }
        try
        {
            var (text, closed) = await SendAsync(tls, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", cts.Token);
            return new Exchange(text, closed, null, seen);
        }
        catch (IOException ex)
        {
            // Reset after the handshake: TLS was done, HTTP never answered.
            return new Exchange("", true, ex, seen);
        }
    }

    /// <summary>Plain HTTP/1.1 GET with extra header lines; reads until the server closes or patience runs out.</summary>
    public static async Task<Exchange> HttpGetAsync(IPAddress source, int port, string path = "/", string headers = "", bool close = true, TimeSpan? patience = null)
    {
        using var cts = new CancellationTokenSource(patience ?? Patience);
        var request = $"GET {path} HTTP/1.1\r\nHost: localhost\r\n{headers}{(close ? "Connection: close\r\n" : "")}\r\n";
        try
        {
            // The connect is inside: a refused client can see the reset as connect()'s own error.
            using var socket = await ConnectAsync(source, port);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var (text, closed) = await SendAsync(stream, request, cts.Token);
            return new Exchange(text, closed, null, null);
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            // A refused connection is reset rather than answered.
            return new Exchange("", true, ex, null);
        }
    }

    private static async Task<(string Text, bool Closed)> SendAsync(Stream stream, string request, CancellationToken ct)
    {
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), ct);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var n = await stream.ReadAsync(buffer, ct);
                if (n == 0)
                    return (Encoding.UTF8.GetString(received.ToArray()), true);
                received.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            // Still open when patience ran out: the server kept the connection.
            return (Encoding.UTF8.GetString(received.ToArray()), false);
        }
    }
}
