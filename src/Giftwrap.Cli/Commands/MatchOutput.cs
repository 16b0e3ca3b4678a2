// Formatting predictions: tcpdmatch's text layout, JSON, and libwrap's warning lines.
using System.Text;
using System.Text.Json;
using Giftwrap.Decisions;

namespace Giftwrap.Cli.Commands;

internal static class MatchOutput
{
    public static string Text(AccessRequest r, Decision d)
    {
        var sb = new StringBuilder();
        Line(sb, "client:   hostname ", r.ClientName);
        Line(sb, "client:   address  ", r.ClientAddress);
        Line(sb, "client:   username ", r.ClientUser);
        Line(sb, "server:   hostname ", r.ServerName);
        Line(sb, "server:   address  ", r.ServerAddress);
        sb.Append("server:   process  ").Append(r.Daemon).Append('\n');
        if (d.Match is { } m)
            sb.Append("matched:  ").Append(m.File).Append(" line ").Append(m.Line).Append('\n');
        foreach (var a in d.Actions)
            sb.Append("option:   ").Append(a.Keyword).Append(a.Value.Length > 0 ? " " + a.Value : "").Append('\n');
        if (d.AclExec is { } aclexec)
            sb.Append("option:   aclexec ").Append(aclexec).Append('\n');
        sb.Append("access:   ").Append(MatchCommand.Access(d)).Append('\n');
        return sb.ToString();
    }

    private static void Line(StringBuilder sb, string label, string? value)
    {
        if (!string.IsNullOrEmpty(value) && !value.Equals(AccessRequest.Unknown, StringComparison.OrdinalIgnoreCase))
            sb.Append(label).Append(value).Append('\n');
    }

    public static string Json(IReadOnlyList<(AccessRequest Request, Decision Decision)> predictions)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var (r, d) in predictions)
            {
                w.WriteStartObject();
                w.WriteStartObject("client");
                w.WriteString("hostname", r.ClientName ?? AccessRequest.Unknown);
                w.WriteString("address", r.ClientAddress ?? AccessRequest.Unknown);
                w.WriteString("username", r.ClientUser ?? AccessRequest.Unknown);
                w.WriteEndObject();
                w.WriteStartObject("server");
                w.WriteString("hostname", r.ServerName ?? AccessRequest.Unknown);
                w.WriteString("address", r.ServerAddress ?? AccessRequest.Unknown);
                w.WriteString("process", r.Daemon);
                w.WriteEndObject();
                if (d.Match is { } m)
                {
                    w.WriteStartObject("matched");
                    w.WriteString("file", m.File);
                    w.WriteNumber("line", m.Line);
                    w.WriteEndObject();
                }
                else
                {
                    w.WriteNull("matched");
                }
                w.WriteStartArray("options");
                foreach (var a in d.Actions)
                {
                    w.WriteStartObject();
                    w.WriteString("keyword", a.Keyword);
                    w.WriteString("value", a.Value);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (d.AclExec is { } aclexec)
                {
                    w.WriteString("aclexec", aclexec);
                    w.WriteString("access_if_aclexec_fails", VerdictWords.Of(d.AclExecFallback is { IsGranted: true }));
                }
                w.WriteStartArray("warnings");
                foreach (var x in d.Warnings)
                    w.WriteStringValue(x.ToLogLine());
                w.WriteEndArray();
                w.WriteString("access", MatchCommand.Access(d));
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
