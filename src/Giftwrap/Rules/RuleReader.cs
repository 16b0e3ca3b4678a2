// Reads one access control table into entries, as table_match() walks it: a rule
// for each `daemon_list : client_list [: options]` line, and a marker where libwrap
// warns (missing newline, line too long, no ':' separator). Comments and blank
// lines vanish. Parsing only: patterns are compiled here, judged in Evaluator.
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
    public required EntryKind Kind { get; init; }
    public required int Line { get; init; }
    public required int FirstLine { get; init; }
    public required string Text { get; init; }
    public string[] Warnings { get; init; } = [];
    public PatternList<DaemonPattern>? Daemons { get; init; }
    public PatternList<ClientPattern>? Clients { get; init; }
    public RuleOptions? Options { get; init; }
    /// <summary>Column of the client list and of the options in <see cref="Text"/> (0-based).</summary>
    public int ClientOffset { get; init; }
    public int OptionsOffset { get; init; }

    private Decision? _granted;
    private Decision? _denied;

    /// <summary>The decision for a match without options or warnings, made once per entry.</summary>
    public Decision Cached(RuleLocation where, Verdict verdict) => verdict == Verdict.Granted
        ? _granted ??= new Decision(verdict, where, null, null)
        : _denied ??= new Decision(verdict, where, null, null);
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
        var clientText = second < 0 ? text[clientStart..] : text[clientStart..second];
        var daemons = PatternList<DaemonPattern>.Parse(Tokens.Split(text[..colon], 0), (t, c) => new DaemonPattern(t, c));
        var clients = PatternList<ClientPattern>.Parse(Tokens.Split(clientText, clientStart), (t, c) => new ClientPattern(t, c));
        return new TableEntry
        {
            Kind = EntryKind.Rule,
            Line = line.Line,
            FirstLine = line.FirstLine,
            Text = text,
            Daemons = daemons,
            Clients = clients,
            Options = second < 0 ? null : RuleOptions.Parse(text[(second + 1)..]),
            ClientOffset = clientStart,
            OptionsOffset = second < 0 ? -1 : second + 1,
        };
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
