// The banners option, byte for byte as libwrap's banners_option() (options.c) sends the file
// DIR/DAEMON: leading NUL bytes sent as they are; then the file read as fgets() reads it into an
// 8,192-byte buffer (pieces of at most 8,190 bytes, each ending after its newline); each piece
// seen as a C string (a NUL ends it: the rest of that piece is lost); its newline, unless inside
// [brackets] (split_at() of the INET6 patch), replaced by CRLF; then %-expanded as percent_x()
// does into a 16,384-byte buffer, looking up what %n, %N and %u name (libwrap does, in order).
// An expansion that does not fit ends the connection, as percent_x() exits there. The file is read
// up to MaxFileBytes (libwrap has no bound; a banner larger than that is cut, on purpose).
// Sending the bytes, and a failure to, are left to the host (IDecisionHost.SendBannerAsync).
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Expansion;
using Giftwrap.Options;

namespace Giftwrap.Hosting;

internal sealed class BannerSender(IDecisionHost host, IRequestLookups? lookups, RuleLocation? rule)
{
    /// <summary>The most of a banner file that is read and sent.</summary>
    public const int MaxFileBytes = 1 << 20;

    /// <summary>fgets(ibuf, sizeof(ibuf) - 1, fp) with BUFSIZ 8,192: at most 8,190 bytes a piece.</summary>
    internal const int PieceBytes = 8190;

    /// <summary>percent_x(obuf, 2 * BUFSIZ, ...): the result must stay below 16,383 bytes.</summary>
    internal const int ExpansionLimit = 2 * 8192 - 1;

    private const string KnownLetters = "aAcdhHnNprRsu%";

    /// <summary>
    /// The bytes of the banner of <paramref name="banners"/> for <paramref name="request"/> (empty when there is
    /// none); Complete is false when an expansion was too long (libwrap exits: the client is let go after what
    /// came before it), and the request with what was looked up.
    /// </summary>
    public async Task<(byte[] Bytes, bool Complete, AccessRequest Request)> ExpandAsync(BannersAction banners, AccessRequest request, CancellationToken ct)
    {
        if (await ReadAsync(banners, request.Daemon, ct).ConfigureAwait(false) is not { } data)
            return ([], true, request);
        var output = new List<byte>(data.Length + 64);
        var i = 0;
        // banners_option(): while ((ch = fgetc(fp)) == 0) write(fd, "", 1);
        for (; i < data.Length && data[i] == 0; i++)
            output.Add(0);
        var complete = true;
        while (i < data.Length)
        {
            var end = Math.Min(data.Length, i + PieceBytes);
            var newline = Array.IndexOf(data, (byte)'\n', i, end - i);
            var pieceEnd = newline >= 0 ? newline + 1 : end;
            var piece = Terminate(data.AsSpan(i, pieceEnd - i));
            i = pieceEnd;
            (var expanded, request) = await ExpandAsync(piece, request, ct).ConfigureAwait(false);
            if (expanded is null)
            {
                complete = false;
                break;
            }
            output.AddRange(expanded);
        }
        return ([.. output], complete, request);
    }

    /// <summary>The piece as a C string (up to a NUL), its first newline outside brackets made CRLF (split_at + strcat).</summary>
    internal static string Terminate(ReadOnlySpan<byte> piece)
    {
        var nul = piece.IndexOf((byte)0);
        var text = Encoding.Latin1.GetString(nul >= 0 ? piece[..nul] : piece);
        var bracket = 0;
        for (var k = 0; k < text.Length; k++)
        {
            switch (text[k])
            {
                case '[':
                    bracket++;
                    break;
                case ']':
                    bracket--;
                    break;
                case '\n' when bracket == 0:
                    return string.Concat(text.AsSpan(0, k), "\r\n");
            }
        }
        return text;
    }

    /// <summary>percent_x() on one piece: left to right, each letter looked up when first named; null when too long.</summary>
    private async Task<(byte[]? Bytes, AccessRequest Request)> ExpandAsync(string piece, AccessRequest request, CancellationToken ct)
    {
        var sb = new StringBuilder(piece.Length + 32);
        for (var k = 0; k < piece.Length; k++)
        {
            string expansion;
            if (piece[k] == '%' && k + 1 < piece.Length)
            {
                var letter = piece[++k];
                request = await LookUpAsync(letter, request, ct).ConfigureAwait(false);
                if (KnownLetters.Contains(letter, StringComparison.Ordinal))
                {
                    expansion = PercentExpander.Expand($"%{letter}", request);
                    request = AsLeftByExpansion(letter, request);
                }
                else
                {
                    expansion = Unrecognized(letter, request);
                }
            }
            else
            {
                expansion = piece[k].ToString();
            }
            if (sb.Length + expansion.Length >= ExpansionLimit)
            {
                host.Log(LibwrapLog.BannerWarning(request.Daemon, rule, $"percent_x: expansion too long: {sb.ToString(0, Math.Min(30, sb.Length))}..."));
                return (null, request);
            }
            sb.Append(expansion);
        }
        return (Encoding.Latin1.GetBytes(sb.ToString()), request);
    }

    // percent_x() sanitises what eval_*() returned where it lies (PercentExpander.RewrittenInPlace): after a
    // banner's %h, %n or %c (no user known) the client's name buffer, after %u the user's; the verdict line
    // then shows them so (a name from /etc/hosts with a ';' logs '_').
    private static AccessRequest AsLeftByExpansion(char letter, AccessRequest request) => letter switch
    {
        'h' or 'n' when request.ClientName is { } name => request with { ClientName = PercentExpander.Sanitise(name) },
        'c' when request.ClientName is { } name && !UserShown(request.ClientUser) => request with { ClientName = PercentExpander.Sanitise(name) },
        'u' when request.ClientUser is { } user => request with { ClientUser = PercentExpander.Sanitise(user) },
        _ => request,
    };

    private static bool UserShown(string? user) => user is { Length: > 0 } && !user.Equals(AccessRequest.Unknown, StringComparison.OrdinalIgnoreCase);

    private string Unrecognized(char letter, AccessRequest request)
    {
        host.Log(LibwrapLog.BannerWarning(request.Daemon, rule, $"unrecognized %{letter}"));
        return "";
    }

    /// <summary>eval_hostname() and eval_user() look up on first use; so does the banner's %n, %N and %u.</summary>
    private async Task<AccessRequest> LookUpAsync(char letter, AccessRequest request, CancellationToken ct)
    {
        if (lookups is null || !request.CanLookUp)
            return request;
        switch (letter)
        {
            case 'n' when request.ClientName is null && request.ClientAddress is { } address:
                return request with { ClientName = await lookups.HostNameAsync(address, ct).ConfigureAwait(false), ClientNameStep = 0 };
            case 'N' when request.ServerName is null && request.ServerAddress is { } server:
                return request with { ServerName = await lookups.HostNameAsync(server, ct).ConfigureAwait(false), ServerNameStep = 0 };
            case 'u' when request.ClientUser is null:
                return request with { ClientUser = await lookups.UserAsync(request, EvalContext.DefaultRfc931Timeout, ct).ConfigureAwait(false), ClientUserStep = 0 };
            default:
                return request;
        }
    }

    /// <summary>
    /// The banner file, or null when there is none (silent), it cannot be read (a warning when DIR itself is missing),
    /// or it is not a regular file (a warning). Read as the tables are (Tables.TableFile): opened without waiting, so a
    /// FIFO (on which libwrap's fopen() waits for a writer for ever) or a device (/dev/zero: NULs without end) is
    /// refused before a byte is read; the read is synchronous, as that of a table, and bounded by MaxFileBytes.
    /// </summary>
    private Task<byte[]?> ReadAsync(BannersAction banners, string daemon, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        switch (Tables.TableFile.TryRead(banners.Path, out var data, out var error, table: false, maxBytes: MaxFileBytes, cut: true))
        {
            case Tables.ReadOutcome.Read:
                return Task.FromResult<byte[]?>(data);
            case Tables.ReadOutcome.Refused:
                host.Log(LibwrapLog.BannerWarning(daemon, rule, $"{error}; no banner sent"));
                return Task.FromResult<byte[]?>(null);
            case Tables.ReadOutcome.Directory:
                // fopen() opens a directory and fgetc() reads nothing from it: no banner, nothing said (libwrap).
                return Task.FromResult<byte[]?>(null);
        }
        // fopen() failed: libwrap then says something only when stat(DIR) fails too.
        if (StatError(banners.Directory) is { } statError)
            host.Log(LibwrapLog.BannerWarning(daemon, rule, $"{banners.Directory}: {statError}"));
        return Task.FromResult<byte[]?>(null);
    }

    /// <summary>strerror() of stat(<paramref name="path"/>), or null when it exists.</summary>
    private static string? StatError(string path)
    {
        try
        {
            _ = File.GetAttributes(path);
            return null;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return path.Length == 0 || !HasFileAsDirectory(path) ? "No such file or directory" : "Not a directory";
        }
        catch (UnauthorizedAccessException)
        {
            return "Permission denied";
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    private static bool HasFileAsDirectory(string path)
    {
        for (var dir = Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(dir))
                return true;
        }
        return false;
    }
}
