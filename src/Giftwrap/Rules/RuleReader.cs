// Reads one access control table into entries, as table_match() walks it: a rule
// for each `daemon_list : client_list [: options]` line, and a marker where libwrap
// warns (missing newline, line too long, no ':' separator). Comments and blank
// lines vanish. Parsing only: patterns are compiled here (lazily for plain address
// rules), judged in Evaluator.
using Giftwrap.Decisions;
using Giftwrap.Options;
using Giftwrap.Patterns;

namespace Giftwrap.Rules;

internal enum EntryKind
{
    /// <summary>A rule to evaluate.</summary>
    Rule,
    /// <summary>A line libwrap warns about and skips when the search reaches it.</summary>
    Skip,
    /// <summary>A line that ends the search of the table with an error (Debian: refused in hosts.deny).</summary>
    Stop,
}

internal sealed class TableEntry
{
    private Compiled? _compiled;
    private Decision? _granted;
    private Decision? _denied;

    // A class, not a record: never compared, and a record's members were on giftwrap-tcpd's start.
    private sealed class Compiled(PatternList<DaemonPattern> daemons, PatternList<ClientPattern> clients, RuleOptions? options)
    {
        public PatternList<DaemonPattern> Daemons { get; } = daemons;
        public PatternList<ClientPattern> Clients { get; } = clients;
        public RuleOptions? Options { get; } = options;
    }

    public required EntryKind Kind { get; init; }
    public required int Line { get; init; }
    public required int FirstLine { get; init; }
    public required string Text { get; init; }
    public string[] Warnings { get; init; } = [];
    /// <summary>Column of the client list and of the options in <see cref="Text"/> (0-based; options -1 when absent).</summary>
    public int ClientOffset { get; init; }
    public int OptionsOffset { get; init; } = -1;

    /// <summary>For a rule whose client list is plain IPv4 addresses only: those addresses (the index keys).</summary>
    public string[]? PlainAddresses { get; init; }

    // Patterns are compiled on first use: in a 100,000-line hosts.deny most rules are only
    // ever found through the address index, and most are never evaluated at all.
    public PatternList<DaemonPattern>? Daemons => Kind == EntryKind.Rule ? Compile().Daemons : null;
    public PatternList<ClientPattern>? Clients => Kind == EntryKind.Rule ? Compile().Clients : null;
    public RuleOptions? Options => Kind == EntryKind.Rule ? Compile().Options : null;

    private Compiled Compile()
    {
        var c = Volatile.Read(ref _compiled);
        if (c is not null)
            return c;
        var colon = ClientOffset - 1;
        var clientText = OptionsOffset < 0 ? Text[ClientOffset..] : Text[ClientOffset..(OptionsOffset - 1)];
        c = new Compiled(
            PatternList<DaemonPattern>.Parse(Tokens.Split(Text[..colon], 0), (t, col) => new DaemonPattern(t, col)),
            PatternList<ClientPattern>.Parse(Tokens.Split(clientText, ClientOffset), (t, col) => new ClientPattern(t, col)),
            OptionsOffset < 0 ? null : RuleOptions.Parse(Text[OptionsOffset..]));
        return Interlocked.CompareExchange(ref _compiled, c, null) ?? c;
    }

    /// <summary>The decision for a match without options or warnings, made once per entry.</summary>
    public Decision Cached(string file, Verdict verdict) => verdict == Verdict.Granted
        ? _granted ??= new Decision(verdict, new RuleLocation(file, Line), null, null)
        : _denied ??= new Decision(verdict, new RuleLocation(file, Line), null, null);
}

internal static class RuleReader
{
    public static List<TableEntry> Read(ReadOnlySpan<byte> data)
    {
        var entries = new List<TableEntry>();
        foreach (var line in LogicalLineReader.Read(data))
        {
            var entry = ReadLine(line);
            if (entry is not null)
                entries.Add(entry);
        }
        return entries;
    }

    private static TableEntry? ReadLine(LogicalLine line)
    {
        var text = line.Text;
        // Debian ends the table here: the rest of the file is ignored, and hosts.deny refuses.
        if (!line.EndsWithNewline)
            return Skip(line, EntryKind.Stop, "missing newline or line too long", "all the subsequent rules will be ignored");
        if (text[0] == '#' || text.AsSpan().IndexOfAnyExcept(" \t\r\n") < 0)
            return null;
        var colon = Tokens.SplitAt(text, ':');
        if (colon < 0)
            return Skip(line, EntryKind.Skip, "missing \":\" separator");
        var clientStart = colon + 1;
        var second = Tokens.SplitAt(text, ':', clientStart);
        var entry = new TableEntry
        {
            Kind = EntryKind.Rule,
            Line = line.Line,
            FirstLine = line.FirstLine,
            Text = text,
            ClientOffset = clientStart,
            OptionsOffset = second < 0 ? -1 : second + 1,
            PlainAddresses = second < 0 ? PlainAddresses(text, colon) : null,
        };
        if (entry.PlainAddresses is null)
            _ = entry.Daemons;
        return entry;
    }

    /// <summary>
    /// The client list's tokens when the rule is the common `daemons : a.b.c.d ...` shape: no
    /// options, no EXCEPT, no @ anywhere, every client token only digits and dots and not a prefix.
    /// </summary>
    private static string[]? PlainAddresses(string text, int colon)
    {
        if (text.AsSpan(0, colon).IndexOf('@') >= 0)
            return null;
        var span = text.AsSpan(colon + 1);
        List<string>? result = null;
        var i = 0;
        while (i < span.Length)
        {
            while (i < span.Length && Tokens.Separators.Contains(span[i], StringComparison.Ordinal))
                i++;
            var start = i;
            while (i < span.Length && !Tokens.Separators.Contains(span[i], StringComparison.Ordinal))
                i++;
            if (i == start)
                break;
            var token = span[start..i];
            // A leading dot is a suffix pattern and a trailing one a prefix: those are not exact.
            if (token.IndexOfAnyExcept("0123456789.") >= 0 || token[^1] == '.' || token[0] == '.')
                return null;
            (result ??= []).Add(token.ToString());
        }
        return result?.ToArray();
    }

    private static TableEntry Skip(LogicalLine line, EntryKind kind, params string[] warnings) => new()
    {
        Kind = kind,
        Line = line.Line,
        FirstLine = line.FirstLine,
        Text = line.Text,
        Warnings = warnings,
    };
}
