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
                ctx.Sanitised |= RewrittenInPlace(letter, ctx);
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

    /// <summary>Replaces every byte outside percent_x()'s safe set with '_'.</summary>
    internal static string Sanitise(string value)
    {
        if (value.AsSpan().IndexOfAnyExcept(Safe) < 0)
            return value;
        var chars = value.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!Safe.Contains(chars[i]))
                chars[i] = '_';
        }
        return new string(chars);
    }

    // percent_x() sanitises the string eval_*() returned where it lies: for %h and %n (and %c when no
    // user is known, eval_client() then being eval_hostinfo()) that is the client's name buffer once the
    // name is known, for %u the user buffer. A %c with a user is a copy ("user@host" in a static buffer).
    private static SanitisedFields RewrittenInPlace(char letter, EvalContext ctx) => letter switch
    {
        'h' or 'n' when ctx.NameLookedUp(server: false) => SanitisedFields.ClientName,
        'c' when ctx.NameLookedUp(server: false) && !UserShown(ctx.UserKnown()) => SanitisedFields.ClientName,
        'u' => SanitisedFields.ClientUser,
        _ => SanitisedFields.None,
    };

    private static bool UserShown(string? user) =>
        user is { Length: > 0 } && !Patterns.Ascii.EqualsIgnoreCase(user, AccessRequest.Unknown);

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
