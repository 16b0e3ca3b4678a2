// `giftwrap replay` on synthetic logs of known connections: the clients whose verdict
// changes and their counts; bad logs give a clear message and change nothing.
using System.Text;
using System.Text.Json;

namespace Giftwrap.Cli.Tests;

public sealed class ReplayTests
{
    private static string Decision(string daemon, string client) =>
        $"{{\"time\":\"2026-11-20T10:00:00Z\",\"daemon\":\"{daemon}\",\"client\":\"{client}\",\"client_name\":\"unknown\",\"user\":\"unknown\",\"server\":\"10.0.0.1\",\"server_port\":22,\"verdict\":\"granted\",\"match\":null,\"actions\":[]}}";

    [Fact]
    public void Replay_DecisionLog_CountsEveryChangedClient()
    {
        using var dir = new TempDir();
        var curAllow = dir.Write("cur.allow", "sshd: 10.0.0.0/8\n");
        var curDeny = dir.Write("cur.deny", "ALL: ALL\n");
        var newAllow = dir.Write("new.allow", "sshd: 10.0.0.0/8 EXCEPT 10.9.0.0/16\nftpd: 192.0.2.7\n");
        var newDeny = dir.Write("new.deny", "ALL: ALL\n");
        var sb = new StringBuilder();
        for (var i = 0; i < 700; i++)
            sb.Append(Decision("sshd", "10.1.2.3")).Append('\n');          // unchanged (granted)
        for (var i = 0; i < 300; i++)
            sb.Append(Decision("sshd", "10.9.8.7")).Append('\n');          // granted -> denied
        for (var i = 0; i < 42; i++)
            sb.Append(Decision("ftpd", "192.0.2.7")).Append('\n');         // denied -> granted
        sb.Append("not json at all\n{\"no\":\"daemon\"}\n");
        var log = dir.Write("decisions.jsonl", sb.ToString());
        var r = CliRunner.Run(dir.Path, "replay", "--log", log, "--allow", newAllow, "--deny", newDeny,
            "--current-allow", curAllow, "--current-deny", curDeny, "--json");
        Assert.Equal(0, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(1042, doc.RootElement.GetProperty("connections").GetInt64());
        Assert.Equal(2, doc.RootElement.GetProperty("ignored").GetInt64());
        var sshd = doc.RootElement.GetProperty("daemons").GetProperty("sshd").EnumerateArray().Single();
        Assert.Equal("10.9.8.7", sshd.GetProperty("client").GetString());
        Assert.Equal("denied", sshd.GetProperty("after").GetString());
        Assert.Equal(300, sshd.GetProperty("connections").GetInt64());
        var ftpd = doc.RootElement.GetProperty("daemons").GetProperty("ftpd").EnumerateArray().Single();
        Assert.Equal(42, ftpd.GetProperty("connections").GetInt64());
        Assert.Equal("granted", ftpd.GetProperty("after").GetString());
    }

    [Fact]
    public void Replay_SyslogLines_AreRead()
    {
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var newDeny = dir.Write("new.deny", "sshd: 203.0.113.\n");
        var log = dir.Write("syslog",
            "Nov 20 10:00:00 host sshd[123]: connect from 203.0.113.5\n" +
            "Nov 20 10:00:01 host sshd[124]: refused connect from 198.51.100.9\n" +
            "Nov 20 10:00:02 host in.ftpd[125]: connect from bob@203.0.113.5\n" +
            "Nov 20 10:00:03 host kernel: something else entirely\n" +
            "Nov 20 10:00:04 host sshd[126]: connect from 203.0.113.5\n");
        var r = CliRunner.Run(dir.Path, "replay", "--syslog", log, "--allow", cur, "--deny", newDeny, "--current-allow", cur, "--current-deny", cur);
        Assert.Contains("sshd: 1 client(s), 2 connection(s)", r.Stdout);
        Assert.Contains("203.0.113.5", r.Stdout);
        Assert.DoesNotContain("in.ftpd", r.Stdout);
    }

    [Fact]
    public void Replay_DebiansLinesWithNameAndAddress_AreDecidedByTheAddress()
    {
        // Debian's tcpd (and Giftwrap) write "connect from NAME (ADDR)": the address decides, the name is kept.
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var newDeny = dir.Write("new.deny", "sshd: 203.0.113.\n");
        var log = dir.Write("syslog",
            "Nov 20 10:00:00 host sshd[123]: connect from gw.example.org (203.0.113.5)\n" +
            "Nov 20 10:00:01 host sshd[124]: refused connect from 198.51.100.9 (198.51.100.9)\n" +
            "Nov 20 10:00:02 host sshd[125]: connect from bob@gw.example.org (203.0.113.5)\n" +
            "Nov 20 10:00:03 host sshd[126]: refused connect from 198.51.100.7 (banned: probing)\n");
        var r = CliRunner.Run(dir.Path, "replay", "--syslog", log, "--allow", cur, "--deny", newDeny, "--current-allow", cur, "--current-deny", cur);
        Assert.Contains("sshd: 2 client(s), 2 connection(s)", r.Stdout);
        Assert.Contains("  gw.example.org (203.0.113.5) ", r.Stdout);
        Assert.Contains("  bob@gw.example.org (203.0.113.5) ", r.Stdout);
    }

    [Fact]
    public void Replay_ControlCharactersFromTheLog_AreNotPrintedRaw()
    {
        // Anyone who can write to syslog (logger), a PTR record or an ident reply puts text in these
        // lines: ESC, BEL and CR would set the operator's terminal title, clear it or hide a line.
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var newDeny = dir.Write("new.deny", "ALL: ALL\n");
        var syslog = dir.Write("syslog", "Nov 20 10:00:00 host sshd[1]: connect from \u001b]0;owned\u0007gw\u001b[2J (203.0.113.5)\n");
        var log = dir.Write("decisions.jsonl",
            "{\"daemon\":\"ss\\u001b[8mhd\",\"client\":\"192.0.2.8\",\"client_name\":\"unknown\",\"user\":\"\\u009b2Jroot\\r\"}\n");
        var fromSyslog = CliRunner.Run(dir.Path, "replay", "--syslog", syslog, "--allow", cur, "--deny", newDeny, "--current-allow", cur, "--current-deny", cur);
        var fromLog = CliRunner.Run(dir.Path, "replay", "--log", log, "--allow", cur, "--deny", newDeny, "--current-allow", cur, "--current-deny", cur);
        Assert.Contains("  ?]0;owned?gw?[2J (203.0.113.5) ", fromSyslog.Stdout);
        Assert.Contains("ss?[8mhd: 1 client(s)", fromLog.Stdout);
        Assert.Contains("  ?2Jroot?@192.0.2.8 ", fromLog.Stdout);
        foreach (var output in new[] { fromSyslog.Stdout, fromLog.Stdout })
            Assert.DoesNotContain(output, c => char.IsControl(c) && c != '\n');
        // JSON keeps the exact text, escaped.
        var json = CliRunner.Run(dir.Path, "replay", "--log", log, "--allow", cur, "--deny", newDeny, "--current-allow", cur, "--current-deny", cur, "--json");
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.Equal("\u009b2Jroot\r@192.0.2.8", doc.RootElement.GetProperty("daemons").GetProperty("ss\u001b[8mhd")[0].GetProperty("client").GetString());
    }

    [Fact]
    public void Replay_BinaryLogWithHugeLines_SaysSoAndDoesNotCrash()
    {
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var rng = new Random(7);
        var bytes = new byte[3_000_000];
        rng.NextBytes(bytes);
        Array.Fill(bytes, (byte)'x', 0, 200_000); // one line far over the limit
        var log = Path.Combine(dir.Path, "binary.log");
        File.WriteAllBytes(log, bytes);
        var r = CliRunner.Run(dir.Path, "replay", "--log", log, "--allow", cur, "--deny", cur, "--current-allow", cur, "--current-deny", cur);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("no decision found", r.Stderr);
        Assert.Contains("longer than", r.Stderr);
    }

    [Fact]
    public void Replay_UnreadableLog_FailsClearly()
    {
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var r = CliRunner.Run(dir.Path, "replay", "--log", Path.Combine(dir.Path, "missing.log"), "--allow", cur, "--deny", cur);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot read", r.Stderr);
    }

    [Fact]
    public void Replay_DirectoryGivenAsLog_SaysItIsADirectory()
    {
        // .NET opens a directory with UnauthorizedAccessException: "Access to the path is denied" sent root to check permissions.
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var r = CliRunner.Run(dir.Path, "replay", "--log", dir.Path, "--allow", cur, "--deny", cur, "--current-allow", cur, "--current-deny", cur);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"giftwrap replay: cannot read {dir.Path}: a directory, not a log file\n", r.Stderr);
    }
}
