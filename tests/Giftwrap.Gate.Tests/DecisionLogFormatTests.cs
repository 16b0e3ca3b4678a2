// The decision log's line, byte for byte as System.Text.Json's Utf8JsonWriter (default options) wrote it
// before JsonLineWriter replaced it: both run over hostile strings (every ASCII unit, non-ASCII, lone and
// paired surrogates, invalid UTF-8 as decoding leaves it) and over real decisions from real tables.
using System.Text;
using System.Text.Json;
using Giftwrap.Decisions;
using Giftwrap.Gate.Logging;
using Giftwrap.Tables;

namespace Giftwrap.Gate.Tests;

public sealed class DecisionLogFormatTests
{
    private static readonly DateTimeOffset When = new(2026, 12, 1, 6, 45, 52, 123, TimeSpan.FromHours(5.5));

    public static TheoryData<string> Hostile()
    {
        var data = new TheoryData<string>
        {
            "", "sshd", "a\"b", "back\\slash", "<script>&'+`", "tab\tnl\nret\rbs\bff\f", "\0\u001f\u007f\u0080\u009f",
            "\u00e9t\u00e9", "\u2028\u2029", "\ufeff\ufffd\uffff", "\u4e2d\u6587", "\ud83d\ude00 smile", "\ud83d", "low \ude00",
            "x\ud83dy", "\ude00\ud83d", "end\ud83d", "\udbff\udfff", "/slash/", "%h@%a",
            Encoding.UTF8.GetString([0x66, 0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80, 0xff]),
            Encoding.Latin1.GetString([0x80, 0xa0, 0xe9, 0xff]),
            new string('\\', 300) + new string('\u00e9', 300),
        };
        for (var c = 0; c < 128; c++)
            data.Add($"[{(char)c}]");
        var random = new Random(16);
        for (var i = 0; i < 200; i++)
        {
            var chars = new char[random.Next(1, 40)];
            for (var j = 0; j < chars.Length; j++)
                chars[j] = (char)(random.Next(4) == 0 ? random.Next(0x10000) : random.Next(0x80));
            data.Add(new string(chars));
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Format_HostileStringInEveryField_IsUtf8JsonWritersLine(string text)
    {
        using var tables = new Tables($"ALL: ALL: setenv X {text.Replace("\n", "", StringComparison.Ordinal).Replace(":", "", StringComparison.Ordinal)}\n", "");
        var request = new AccessRequest
        {
            Daemon = text, ClientAddress = text, ClientName = text, ClientUser = text, ServerAddress = text, ServerPort = 65535,
        };
        var decision = tables.Decide(request);
        Assert.Equal(Reference(request, decision, text, When), DecisionLog.Format(request, decision, text, When));
    }

    [Fact]
    public void Format_RealDecisions_AreUtf8JsonWritersLines()
    {
        const string allow = "sshd: 127.0.0.1: spawn (/bin/echo %a %h \"%d\" <x>) &: banners /nonexistent\n"
            + "in.telnetd: .example.com EXCEPT evil.example.com: severity auth.notice: nice 5\n"
            + "ALL: LOCAL: keepalive: linger 10\n";
        using var tables = new Tables(allow, "ALL: ALL: twist /bin/echo refused \\\\ %c\n");
        var requests = new[]
        {
            new AccessRequest { Daemon = "sshd", ClientAddress = "127.0.0.1", ServerAddress = "127.0.0.1", ServerPort = 22 },
            new AccessRequest { Daemon = "in.telnetd", ClientAddress = "192.0.2.7", ClientName = "host.example.com" },
            new AccessRequest { Daemon = "ftpd", ClientAddress = "::1", ClientName = "localhost", ClientUser = "root", ServerPort = -1 },
            new AccessRequest { Daemon = "x", ClientAddress = "2001:db8::1", ClientName = AccessRequest.Paranoid },
            new AccessRequest { Daemon = "", ClientAddress = null, ClientName = null, ClientUser = null, ServerAddress = null, ServerPort = int.MinValue },
        };
        foreach (var request in requests)
        {
            var decision = tables.Decide(request);
            foreach (var when in new[] { When, DateTimeOffset.MinValue, DateTimeOffset.MaxValue, new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.FromHours(-8)) })
            {
                foreach (var verdict in new[] { "granted", "denied" })
                    Assert.Equal(Reference(request, decision, verdict, when), DecisionLog.Format(request, decision, verdict, when));
            }
        }
        // No rule matched: "match" is null.
        var none = new AccessRequest { Daemon = "none", ClientAddress = "198.51.100.1" };
        using var empty = new Tables("", "");
        var unmatched = empty.Decide(none);
        Assert.Null(unmatched.Match);
        Assert.Equal(Reference(none, unmatched, "granted", When), DecisionLog.Format(none, unmatched, "granted", When));
    }

    // DecisionLog.Format as it was, with Utf8JsonWriter's default options.
    private static byte[] Reference(AccessRequest r, Decision d, string verdict, DateTimeOffset when)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            w.WriteString("time", when.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("daemon", r.Daemon);
            w.WriteString("client", r.ClientAddress ?? AccessRequest.Unknown);
            w.WriteString("client_name", r.ClientName ?? AccessRequest.Unknown);
            w.WriteString("user", r.ClientUser ?? AccessRequest.Unknown);
            w.WriteString("server", r.ServerAddress ?? AccessRequest.Unknown);
            w.WriteNumber("server_port", r.ServerPort);
            w.WriteString("verdict", verdict);
            if (d.Match is { } m)
                w.WriteString("match", $"{m.File}:{m.Line}");
            else
                w.WriteNull("match");
            w.WriteStartArray("actions");
            foreach (var a in d.Actions)
                w.WriteStringValue(a.Value.Length > 0 ? $"{a.Keyword} {a.Value}" : a.Keyword);
            w.WriteEndArray();
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    /// <summary>hosts.allow and hosts.deny in a directory of their own, read once.</summary>
    private sealed class Tables : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("giftwrap-dlogfmt-").FullName;
        private readonly AccessTables _tables;

        public Tables(string allow, string deny)
        {
            File.WriteAllText(Path.Combine(_directory, "hosts.allow"), allow);
            File.WriteAllText(Path.Combine(_directory, "hosts.deny"), deny);
            _tables = new AccessTables(Path.Combine(_directory, "hosts.allow"), Path.Combine(_directory, "hosts.deny"));
        }

        public Decision Decide(AccessRequest request) => _tables.Decide(request);

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }
}
