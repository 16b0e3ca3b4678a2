// A daemon_list or client_list: groups of patterns separated by EXCEPT, read as
// `a EXCEPT (b EXCEPT c)`. The first matching token of a group decides the group,
// later tokens are not evaluated, so lookups happen only where libwrap would.
using Giftwrap.Decisions;

namespace Giftwrap.Patterns;

internal interface IListPattern
{
    string Token { get; }
    int Column { get; }
    bool IsMatch(EvalContext ctx);
}

internal sealed class PatternList<T>(T[][] groups) where T : IListPattern
{
    public T[][] Groups { get; } = groups;

    public bool IsMatch(EvalContext ctx) => GroupMatches(ctx, 0);

    // list_match(): any token of group i, unless the rest (from group i+1) matches.
    private bool GroupMatches(EvalContext ctx, int i)
    {
        if (i >= Groups.Length)
            return false;
        foreach (var p in Groups[i])
        {
            if (p.IsMatch(ctx))
                return i + 1 >= Groups.Length || !GroupMatches(ctx, i + 1);
        }
        return false;
    }

    public static PatternList<T> Parse(List<(string Token, int Offset)> tokens, Func<string, int, T> compile)
    {
        var groups = new List<T[]>();
        var current = new List<T>();
        foreach (var (token, offset) in tokens)
        {
            if (Ascii.EqualsIgnoreCase(token, "EXCEPT"))
            {
                groups.Add([.. current]);
                current.Clear();
            }
            else
            {
                current.Add(compile(token, offset + 1));
            }
        }
        groups.Add([.. current]);
        return new PatternList<T>([.. groups]);
    }
}

/// <summary>A daemon_list token: a daemon pattern, optionally @host_pattern for the server endpoint.</summary>
internal sealed class DaemonPattern : IListPattern
{
    public DaemonPattern(string token, int column)
    {
        Token = token;
        Column = column;
        var at = token.Length > 1 ? Tokens.SplitAt(token, '@', 1) : -1;
        var name = at < 0 ? token : token[..at];
        Name = new StringPattern(name);
        Port = ScanUnsigned(name);
        Host = at < 0 ? null : HostPattern.Compile(token[(at + 1)..]);
    }

    /// <summary>A numeric daemon token names the server port (Debian); it is then never compared with the daemon name.</summary>
    public uint? Port { get; }

    /// <summary>
    /// daemon_or_port_match(): sscanf("%u%c") == 1 and at most 65535 (leading white space as isspace() has
    /// it: a token can still begin with a form feed or vertical tab, since only blanks, tabs and line ends
    /// split tokens). glibc stores the low 32 bits of strtoul's result, so "4294967318" is port 22; a number
    /// above 65535 after that is a daemon name again.
    /// </summary>
    internal static uint? ScanUnsigned(string s) =>
        CNumbers.TryScanUnsigned(s, 10, out var port) && port <= 65535 ? port : null;

    public string Token { get; }
    public int Column { get; }
    public StringPattern Name { get; }
    public HostPattern? Host { get; }

    public bool IsMatch(EvalContext ctx) =>
        (Port is { } port ? ctx.Request.ServerPort != 0 && (uint)ctx.Request.ServerPort == port : Name.IsMatch(ctx.Daemon))
        && (Host is null || Host.IsMatch(ctx, server: true));
}

/// <summary>A client_list token: a host pattern, optionally preceded by user_pattern@.</summary>
internal sealed class ClientPattern : IListPattern
{
    public ClientPattern(string token, int column)
    {
        Token = token;
        Column = column;
        var at = token.Length > 1 ? Tokens.SplitAt(token, '@', 1) : -1;
        Host = HostPattern.Compile(at < 0 ? token : token[(at + 1)..]);
        User = at < 0 ? null : new StringPattern(token[..at]);
    }

    public string Token { get; }
    public int Column { get; }
    public HostPattern Host { get; }
    public StringPattern? User { get; }

    public bool IsMatch(EvalContext ctx) =>
        Host.IsMatch(ctx, server: false) && (User is null || User.IsMatch(ctx.User()));
}
