// The little of HTTP/1.x (RFC 9112) the metrics endpoint speaks: find the end of a request's head,
// read its request line, and answer GET or HEAD of /metrics, 404 elsewhere, 405 for other methods,
// always with Connection: close. Header fields are not read: nothing here depends on them.
// Sockets, sizes and deadlines are MetricsServer's; the text served is MetricsCollector's.
using System.Text;

namespace Giftwrap.Cli.Metrics;

internal static class MetricsRequest
{
    /// <summary>The scrape path; "/metrics/" and a query string are taken as it, as the exporter took them.</summary>
    public const string Path = "/metrics";

    /// <summary>The media type of the text exposition format, version 0.0.4.</summary>
    public const string TextFormat = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>The length of the head (request line and header fields, with the empty line that ends it), or -1 while it is not whole.</summary>
    public static int HeadLength(ReadOnlySpan<byte> received)
    {
        // RFC 9112 section 2.2: a bare LF may end a line, so "\n\n" and "\n\r\n" end the head too.
        for (var i = received.IndexOf((byte)'\n'); i >= 0;)
        {
            var rest = received[(i + 1)..];
            if (rest.Length > 0 && rest[0] == '\n')
                return i + 2;
            if (rest.Length > 1 && rest[0] == '\r' && rest[1] == '\n')
                return i + 3;
            var next = rest.IndexOf((byte)'\n');
            i = next < 0 ? -1 : i + 1 + next;
        }
        return -1;
    }

    /// <summary>What to answer to a whole head: a status, and for 200 whether the body goes with it (GET) or not (HEAD).</summary>
    public static (int Status, bool Body) Route(ReadOnlySpan<byte> head)
    {
        var end = head.IndexOf((byte)'\n');
        var line = Encoding.Latin1.GetString(end < 0 ? head : head[..end]).TrimEnd('\r');
        var parts = line.Split(' ');
        // RFC 9112 section 3: method SP request-target SP HTTP-version, nothing else.
        if (parts.Length != 3 || parts[0].Length == 0 || !parts[2].StartsWith("HTTP/", StringComparison.Ordinal))
            return (400, false);
        if (parts[2] is not ("HTTP/1.0" or "HTTP/1.1"))
            return (505, false);
        if (!IsMetrics(parts[1]))
            return (404, false);
        return parts[0] switch
        {
            "GET" => (200, true),
            "HEAD" => (200, false),
            _ => (405, false),
        };
    }

    private static bool IsMetrics(string target)
    {
        // The absolute form (RFC 9112 section 3.2.2) names the same path after the authority.
        if (target.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            var slash = target.IndexOf('/', "http://".Length);
            target = slash < 0 ? "/" : target[slash..];
        }
        var query = target.IndexOfAny(['?', '#']);
        var path = query < 0 ? target : target[..query];
        return path is Path or Path + "/";
    }

    /// <summary>A whole response: status line, headers, and <paramref name="body"/> unless <paramref name="withBody"/> is false (HEAD).</summary>
    public static byte[] Response(int status, byte[] body, string contentType, bool withBody)
    {
        var head = new StringBuilder()
            .Append("HTTP/1.1 ").Append(status).Append(' ').Append(Reason(status)).Append("\r\n")
            .Append("Content-Type: ").Append(contentType).Append("\r\n")
            .Append("Content-Length: ").Append(body.Length).Append("\r\n");
        if (status == 405)
            head.Append("Allow: GET, HEAD\r\n");
        head.Append("Connection: close\r\n\r\n");
        var bytes = Encoding.ASCII.GetBytes(head.ToString());
        return withBody ? [.. bytes, .. body] : bytes;
    }

    /// <summary>An error response with its reason phrase as a one-line body.</summary>
    public static byte[] Error(int status) => Response(status, Encoding.ASCII.GetBytes(Reason(status) + "\n"), "text/plain; charset=utf-8", withBody: true);

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
}
