// `giftwrap replay`: what a change to the tables would do to real traffic. Past
// connections (the decision log, or tcpd's syslog lines) are decided against the
// current tables and the new ones; every client whose verdict changes is listed,
// grouped by daemon, with how many connections it made. Past --max-distinct distinct
// connections the rest are summarised by daemon and rule, and the output says so.
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Giftwrap.Decisions;
using Giftwrap.Replay;

namespace Giftwrap.Cli.Commands;

internal static class ReplayCommand
{
    public static Command Create()
    {
        var log = new Option<string?>("--log") { Description = "A Giftwrap decision log (JSON lines)." };
        var syslog = new Option<string?>("--syslog") { Description = "A syslog file with tcpd/libwrap lines (\"sshd[1]: refused connect from 1.2.3.4\")." };
        var allow = new Option<string>("--allow") { Description = "The new allow table.", Required = true };
        var deny = new Option<string>("--deny") { Description = "The new deny table.", Required = true };
        var currentAllow = new Option<string>("--current-allow") { Description = "The current allow table (default /etc/hosts.allow).", DefaultValueFactory = _ => TableOptions.DefaultAllow };
        var currentDeny = new Option<string>("--current-deny") { Description = "The current deny table (default /etc/hosts.deny).", DefaultValueFactory = _ => TableOptions.DefaultDeny };
        var json = new Option<bool>("--json") { Description = "Print the changes as JSON." };
        var maxDistinct = new Option<int>("--max-distinct")
        {
            Description = "Distinct connections listed client by client; past it they are summarised by daemon and rule.",
            DefaultValueFactory = _ => Replayer.DefaultMaxDistinct,
        };
        maxDistinct.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
                r.AddError("--max-distinct must be 0 or more");
        });
        var command = new Command("replay", "Replay past connections against the current and new tables; list every client whose verdict changes.")
        {
            log, syslog, allow, deny, currentAllow, currentDeny, json, maxDistinct,
        };
        command.SetAction(result =>
        {
            var logPath = result.GetValue(log);
            var syslogPath = result.GetValue(syslog);
            if ((logPath is null) == (syslogPath is null))
            {
                Console.Error.WriteLine("giftwrap replay: give exactly one of --log FILE or --syslog FILE");
                return 2;
            }
            var path = logPath ?? syslogPath!;
            Stream stream;
            try
            {
                stream = File.OpenRead(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // .NET refuses a directory with UnauthorizedAccessException: not a matter of permissions.
                var why = Directory.Exists(path) ? "a directory, not a log file" : ex.Message;
                Console.Error.WriteLine($"giftwrap replay: cannot read {path}: {why}");
                return 1;
            }
            // On a terminal the log is read through a counter, so the note can say how far it got.
            var counted = TerminalProgress.Shown ? new CountingStream(stream) : null;
            using (stream = counted ?? stream)
            {
                using var current = TableOptions.Compile(result.GetValue(currentAllow)!, result.GetValue(currentDeny)!);
                using var proposed = TableOptions.Compile(result.GetValue(allow)!, result.GetValue(deny)!);
                var stats = new LogStats();
                var past = logPath is not null ? LogReader.DecisionLog(stream, stats) : LogReader.Syslog(stream, stats);
                ReplayReport report;
                var total = TerminalProgress.FileSize(path);
                using (TerminalProgress.Start($"replaying {path}", () => Percent(counted!.BytesRead, total)))
                    report = Replayer.Run(past, stats, current, proposed, result.GetValue(maxDistinct));
                if (stats.Decisions == 0)
                    Console.Error.WriteLine($"giftwrap replay: {path}: no decision found in {stats.Lines} line(s) (is it the right kind of log?)");
                if (stats.TooLong > 0)
                    Console.Error.WriteLine($"giftwrap replay: {path}: {stats.TooLong} line(s) longer than {LogReader.MaxLineBytes} bytes skipped");
                if (report.Summary is { } s)
                    Console.Error.WriteLine($"giftwrap replay: {path}: more than {s.MaxDistinct} distinct connections; {s.Connections} connection(s) past them are summarised by daemon and rule (--max-distinct)");
                // Written as it is formed: a report of many clients is not built a second time as one string.
                if (result.GetValue(json))
                {
                    using var stdout = Console.OpenStandardOutput();
                    Json(report, stdout);
                }
                else
                {
                    using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16);
                    Text(report, stdout);
                }
                return 0;
            }
        });
        return command;
    }

    private static string Percent(long done, long total) =>
        total <= 0 ? TerminalProgress.Size(done) : string.Create(CultureInfo.InvariantCulture, $"{Math.Min(100, 100 * done / total)}% of {TerminalProgress.Size(total)}");

    internal static string Text(ReplayReport r)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        Text(r, sw);
        return sw.ToString();
    }

    internal static void Text(ReplayReport r, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        if (r.Summary is { } s)
        {
            o.Write(string.Create(inv, $"{r.Connections} connection(s) replayed, {r.Distinct} distinct listed and about {s.DistinctEstimate} more summarised; {r.Changes.Count} listed client(s) change\n"));
            o.Write(string.Create(inv, $"summarised: {s.Connections} connection(s), about {s.DistinctEstimate} distinct, past the first {s.MaxDistinct} distinct: counted by daemon and rule below, not listed client by client\n"));
        }
        else
        {
            o.Write(string.Create(inv, $"{r.Connections} connection(s) replayed, {r.Distinct} distinct; {r.Changes.Count} client(s) change\n"));
        }
        foreach (var g in r.Changes.GroupBy(c => c.Daemon))
        {
            // Daemons, names and users come from the log: from DNS, ident replies, or anyone who can write to syslog.
            o.Write(string.Create(inv, $"\n{TerminalText.Printable(g.Key)}: {g.Count()} client(s), {g.Sum(c => c.Connections)} connection(s)\n"));
            foreach (var c in g)
            {
                o.Write(string.Create(inv, $"  {TerminalText.Printable(c.Client),-40} {VerdictWords.Of(c.Before)} -> {VerdictWords.Of(c.After)}  {c.Connections} connection(s)"));
                if (c.AfterRule is { } rule)
                    o.Write(string.Create(inv, $"  by {rule}"));
                o.Write('\n');
            }
        }
        if (r.Summary is { } summary)
            Summarised(o, summary);
    }

    private static void Summarised(TextWriter o, ReplaySummary s)
    {
        var inv = CultureInfo.InvariantCulture;
        o.Write(string.Create(inv, $"\nsummarised past the first {s.MaxDistinct} distinct: {s.Changes.Sum(t => t.Connections)} connection(s) change\n"));
        foreach (var t in s.Changes)
        {
            var daemon = t.Daemon is null ? "(other daemons)" : TerminalText.Printable(t.Daemon);
            o.Write(string.Create(inv, $"  {daemon,-40} {VerdictWords.Of(t.Before)} -> {VerdictWords.Of(t.After)}  {t.Connections} connection(s)"));
            if (t.AfterRule is { } rule)
                o.Write(string.Create(inv, $"  by {rule}"));
            o.Write('\n');
        }
    }

    internal static void Json(ReplayReport r, Stream output)
    {
        using (var w = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("connections", r.Connections);
            w.WriteNumber("distinct", r.Distinct);
            w.WriteNumber("lines", r.Stats.Lines);
            w.WriteNumber("skipped_too_long", r.Stats.TooLong);
            w.WriteNumber("ignored", r.Stats.Ignored);
            w.WriteStartObject("daemons");
            foreach (var g in r.Changes.GroupBy(c => c.Daemon))
            {
                w.WriteStartArray(g.Key);
                foreach (var c in g)
                {
                    w.WriteStartObject();
                    w.WriteString("client", c.Client);
                    Change(w, c.Before, c.After, c.Connections, c.AfterRule);
                    w.WriteEndObject();
                    // The writer keeps everything until flushed.
                    if (w.BytesPending > 1 << 16)
                        w.Flush();
                }
                w.WriteEndArray();
            }
            w.WriteEndObject();
            if (r.Summary is { } s)
                Summarised(w, s);
            w.WriteEndObject();
        }
        output.Write("\n"u8);
    }

    // Only present when something was summarised: the output of an ordinary log is unchanged.
    private static void Summarised(Utf8JsonWriter w, ReplaySummary s)
    {
        w.WriteStartObject("summarised");
        w.WriteNumber("max_distinct", s.MaxDistinct);
        w.WriteNumber("connections", s.Connections);
        w.WriteNumber("distinct_estimate", s.DistinctEstimate);
        w.WriteStartArray("changes");
        foreach (var t in s.Changes)
        {
            w.WriteStartObject();
            if (t.Daemon is null)
                w.WriteNull("daemon");
            else
                w.WriteString("daemon", t.Daemon);
            Change(w, t.Before, t.After, t.Connections, t.AfterRule);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }

    /// <summary>The fields a listed connection and a summarised group share: its verdicts, how many, the rule after.</summary>
    private static void Change(Utf8JsonWriter w, bool before, bool after, long connections, RuleLocation? rule)
    {
        w.WriteString("before", VerdictWords.Of(before));
        w.WriteString("after", VerdictWords.Of(after));
        w.WriteNumber("connections", connections);
        if (rule is { } r)
            w.WriteString("rule", r.ToString());
    }
}
