// %<letter> expansion (percent_x): the client and server facts substituted into
// spawn, twist, aclexec, setenv values and banner text. Characters of an expansion
// outside libwrap's safe set become '_', so a hostile name cannot reach a shell.
using System.Globalization;
using System.Text;
using Giftwrap.Decisions;

namespace Giftwrap.Expansion;

/// <summary>Performs libwrap's %-expansions.</summary>
public static class PercentExpander
{
    /// <summary>percent_x's buffer: results of 8,191 bytes or more are refused.</summary>
    internal const int ResultLimit = 8192;

    private const string SafeChars =
        "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    private static readonly System.Buffers.SearchValues<char> Safe = System.Buffers.SearchValues.Create(SafeChars);

    /// <summary>
    /// Expands <paramref name="text"/> for <paramref name="request"/> (names and user as the request
    /// carries them; nothing is looked up). For banner text and for hosts that expand on their own.
    /// </summary>
    public static string Expand(string text, AccessRequest request)
    {
        var ctx = new EvalContext(request with { CanLookUp = false }, Tables.PatternFileCache.Empty, SystemNetgroups.Instance, SystemAccounts.Instance);
        return Expand(text, ctx);
    }

    internal static string Expand(string text, EvalContext ctx)
    {
        if (!text.Contains('%', StringComparison.Ordinal))
            return text.Length < ResultLimit - 1 ? text : TooLong(text, ctx);
        var sb = new StringBuilder(text.Length + 32);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '%' && i + 1 < text.Length)
            {
                var letter = text[++i];
                var value = Letter(letter, ctx);
                var start = sb.Length;
                sb.Append(value);
                for (var j = start; j < sb.Length; j++)
                {
                    if (!Safe.Contains(sb[j]))
                        sb[j] = '_';
                }
            }
            else
            {
                sb.Append(c);
            }
            if (sb.Length >= ResultLimit - 1)
                return TooLong(sb.ToString(0, Math.Min(30, sb.Length)), ctx);
        }
        return sb.ToString();
    }

    // percent_x(): "bp + expansion_len >= end" with end = result + BUFSIZ - 1, i.e. a result of 8,191 bytes
    // or more, logs the first 30 bytes of the result and then sleep(5); exit(0): the process ends there,
    // no option after it is carried out and no daemon runs. The evaluation stops with the same outcome.
    private static string TooLong(string result, EvalContext ctx)
    {
        ctx.Exit("percent_x", $"percent_x: expansion too long: {result[..Math.Min(30, result.Length)]}...");
        return "";
    }

    private static string Letter(char letter, EvalContext ctx) => letter switch
    {
        'a' => ctx.ClientAddressShown,
        'A' => ctx.ServerAddressShown,
        'c' => Client(ctx),
        'd' => ctx.Daemon,
        'h' => HostInfo(ctx, server: false),
        'H' => HostInfo(ctx, server: true),
        'n' => ctx.HostName(server: false),
        'N' => ctx.HostName(server: true),
        'p' => (ctx.Request.ProcessId != 0 ? ctx.Request.ProcessId : Environment.ProcessId).ToString(CultureInfo.InvariantCulture),
        'r' => ctx.Request.ClientPort.ToString(CultureInfo.InvariantCulture),
        'R' => ctx.Request.ServerPort.ToString(CultureInfo.InvariantCulture),
        's' => Server(ctx),
        'u' => ctx.User(),
        '%' => "%",
        _ => Unrecognized(letter, ctx),
    };

    private static string Unrecognized(char letter, EvalContext ctx)
    {
        ctx.Warn("percent", $"unrecognized %{letter}");
        return "";
    }

    /// <summary>eval_hostinfo(): the name when it is known, else the address; never triggers a lookup.</summary>
    internal static string HostInfo(EvalContext ctx, bool server)
    {
        if (!ctx.NameLookedUp(server))
            return ctx.HostShown(server);
        var name = ctx.HostName(server);
        return Ascii(name) ? name : ctx.HostShown(server);

        static bool Ascii(string n) =>
            !Patterns.Ascii.EqualsIgnoreCase(n, AccessRequest.Unknown) && !Patterns.Ascii.EqualsIgnoreCase(n, AccessRequest.Paranoid);
    }

    /// <summary>eval_client(): user@host when the user is known, else the host info.</summary>
    internal static string Client(EvalContext ctx)
    {
        var host = HostInfo(ctx, server: false);
        var user = ctx.UserKnown();
        return user is { Length: > 0 } && !Patterns.Ascii.EqualsIgnoreCase(user, AccessRequest.Unknown)
            ? $"{user}@{host}"
            : host;
    }

    /// <summary>eval_server(): daemon@host when the server host is known, else the daemon.</summary>
    internal static string Server(EvalContext ctx)
    {
        var host = HostInfo(ctx, server: true);
        return Patterns.Ascii.EqualsIgnoreCase(host, AccessRequest.Unknown) ? ctx.Daemon : $"{ctx.Daemon}@{host}";
    }
}
