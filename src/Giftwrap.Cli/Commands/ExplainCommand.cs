// `giftwrap explain`: every rule of both tables, in order, with why it matched or
// not, the lookups it needed and whether the search reached it; then the verdict
// and the actions. tcpdmatch shows only the winner; this shows the whole path.
using System.CommandLine;
using System.Net;
using System.Text;
using System.Text.Json;
using Giftwrap.Analysis;
using Giftwrap.Decisions;
using Giftwrap.Explain;
using Giftwrap.Tables;

namespace Giftwrap.Cli.Commands;

internal static class ExplainCommand
{
    public static Command Create()
    {
        var tables = new TableOptions();
        var json = new Option<bool>("--json") { Description = "Print the trace as JSON." };
        var daemon = new Argument<string>("daemon[@server]") { Description = "The daemon process name, optionally @ the server address or name it was reached on." };
        var client = new Argument<string>("[user@]client") { Description = "The client address or host name, optionally with the user ident would report." };
        var command = new Command("explain", "Show how every rule of both tables answers a request, and why.") { json, daemon, client };
        tables.AddTo(command);
        command.SetAction(async (result, ct) =>
        {
            var (allow, deny) = tables.Resolve(result);
            var requests = await MatchCommand.BuildRequestsAsync(result.GetValue(daemon)!, result.GetValue(client)!, ct).ConfigureAwait(false);
            if (requests is null)
                return 1;
            using var t = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
            var explanations = requests.Select(r => (Request: r, Explanation: Explainer.Explain(t, r))).ToList();
            var kernel = requests.Select(r => Kernel(t, r)).ToList();
            Console.Out.Write(result.GetValue(json)
                ? Json(explanations, kernel)
                : string.Join("\n", explanations.Select((e, i) => Text(e.Request, e.Explanation) + KernelText(kernel[i]))));
            return 0;
        });
        return command;
    }

    internal static string Text(AccessRequest r, Explanation x)
    {
        var sb = new StringBuilder();
        sb.Append(MatchOutput.Text(r, x.Decision).Split('\n').Where(l => l.StartsWith("client:", StringComparison.Ordinal) || l.StartsWith("server:", StringComparison.Ordinal))
            .Aggregate(new StringBuilder(), (b, l) => b.Append(l).Append('\n')));
        foreach (var rule in x.Rules)
        {
            sb.Append('\n').Append(rule.File).Append(" line ").Append(rule.Line).Append(": ").Append(rule.Text);
            if (!rule.Reached)
                sb.Append("    (not reached: an earlier rule decided)");
            sb.Append('\n');
            switch (rule.Outcome)
            {
                case RuleOutcome.Skipped:
                    sb.Append("    skipped:  ").Append(rule.Daemons).Append('\n');
                    continue;
                case RuleOutcome.Stops:
                    sb.Append("    stops:    ").Append(rule.Daemons).Append('\n');
                    continue;
            }
            sb.Append("    daemons:  ").Append(rule.Daemons).Append('\n');
            if (rule.Clients is not null)
                sb.Append("    clients:  ").Append(rule.Clients).Append('\n');
            if (rule.Lookups != LookupUse.None)
                sb.Append("    lookups:  ").Append(Lookups(rule.Lookups)).Append('\n');
            sb.Append("    result:   ").Append(rule.Outcome == RuleOutcome.Matched ? "match" : "no match").Append('\n');
        }
        sb.Append('\n');
        var verdict = MatchOutput.Text(r, x.Decision).Split('\n').Where(l => l.StartsWith("matched:", StringComparison.Ordinal) || l.StartsWith("option:", StringComparison.Ordinal) || l.StartsWith("access:", StringComparison.Ordinal));
        foreach (var l in verdict)
            sb.Append(l).Append('\n');
        foreach (var w in x.Decision.Warnings)
            sb.Append(w.ToLogLine()).Append('\n');
        return sb.ToString();
    }

    /// <summary>
    /// What kernel address rules (docs/design/kernel-rules.md) would do with this client address for this
    /// daemon: refused (dropped before user space) or held with the rule that kept it out. Null for a
    /// client given by name only.
    /// </summary>
    internal static (bool Refused, HeldRange? Held)? Kernel(AccessTables tables, AccessRequest r)
    {
        if (r.ClientAddress is not { } text || !IPAddress.TryParse(text, out var address))
            return null;
        var held = AddressRules.Compile(tables, r.Daemon, r.ServerPort).HeldFor(address);
        return (held is null, held);
    }

    private static string KernelText((bool Refused, HeldRange? Held)? kernel) => kernel switch
    {
        null => "",
        { Refused: true } => "kernel:   refused whatever the lookups say (address rules may drop it)\n",
        { Held: { File.Length: > 0 } h } => $"kernel:   held ({h.Range}): {h.Reason} ({h.File} line {h.Line})\n",
        { Held: { } h } => $"kernel:   held ({h.Range}): {h.Reason}\n",
        _ => "",
    };

    private static string Lookups(LookupUse use) => string.Join(", ", new[]
    {
        use.HasFlag(LookupUse.ClientName) ? "client host name" : null,
        use.HasFlag(LookupUse.ServerName) ? "server host name" : null,
        use.HasFlag(LookupUse.ClientUser) ? "client user (ident)" : null,
    }.Where(x => x is not null));

    internal static string Json(List<(AccessRequest Request, Explanation Explanation)> list, List<(bool Refused, HeldRange? Held)?> kernel)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            for (var i = 0; i < list.Count; i++)
            {
                var (r, x) = list[i];
                w.WriteStartObject();
                w.WriteStartArray("rules");
                foreach (var rule in x.Rules)
                {
                    w.WriteStartObject();
                    w.WriteString("file", rule.File);
                    w.WriteNumber("line", rule.Line);
                    w.WriteString("text", rule.Text);
                    w.WriteString("outcome", rule.Outcome.ToString().ToLowerInvariant());
                    w.WriteBoolean("reached", rule.Reached);
                    w.WriteString("daemons", rule.Daemons);
                    if (rule.Clients is not null)
                        w.WriteString("clients", rule.Clients);
                    w.WriteString("lookups", Lookups(rule.Lookups));
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                w.WriteString("access", MatchCommand.Access(x.Decision));
                if (x.Decision.Match is { } m)
                    w.WriteString("matched", $"{m.File}:{m.Line}");
                if (kernel[i] is { } k)
                {
                    w.WriteStartObject("kernel");
                    w.WriteBoolean("refused", k.Refused);
                    if (k.Held is { } h)
                    {
                        w.WriteString("range", h.Range.ToString());
                        w.WriteString("reason", h.Reason);
                        if (h.File.Length > 0)
                            w.WriteString("rule", $"{h.File}:{h.Line}");
                    }
                    w.WriteEndObject();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray()) + "\n";
    }
}
