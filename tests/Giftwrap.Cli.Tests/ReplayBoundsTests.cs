// `giftwrap replay` on logs of more distinct connections than it holds: the first ones are
// listed as always, the rest summarised by daemon and rule and said to be, and a hostile
// log past the default limit replays within a fixed heap (the GC's hard limit, not a timing).
using System.Text;
using System.Text.Json;

namespace Giftwrap.Cli.Tests;

public sealed class ReplayBoundsTests
{
    private static string Line(string daemon, string client) => $"{{\"daemon\":\"{daemon}\",\"client\":\"{client}\"}}\n";

    [Fact]
    public void Replay_MoreDistinctThanTheLimit_ListsTheFirstAndSummarisesTheRest()
    {
        using var dir = new TempDir();
        var curAllow = dir.Write("cur.allow", "ALL: [2001:db8::]/32\n");
        var deny = dir.Write("deny", "ALL: ALL\n");
        var newAllow = dir.Write("new.allow", "ftpd: [2001:db8::]/32\n");
        var sb = new StringBuilder();
        for (var i = 0; i < 5000; i++)
            sb.Append(Line(i % 5 == 0 ? "ftpd" : "sshd", $"2001:db8::{i >> 16:x}:{i & 0xffff:x}"));   // 4000 sshd change, 1000 ftpd do not
        for (var i = 0; i < 10; i++)
            sb.Append(Line("sshd", "2001:db8::0:1"));                                            // held: counted with the first
        var log = dir.Write("decisions.jsonl", sb.ToString());
        string[] args = ["replay", "--log", log, "--allow", newAllow, "--deny", deny, "--current-allow", curAllow, "--current-deny", deny, "--max-distinct", "1000"];

        var json = CliRunner.Run(dir.Path, [.. args, "--json"]);
        Assert.Equal(0, json.ExitCode);
        using var doc = JsonDocument.Parse(json.Stdout);
        var root = doc.RootElement;
        Assert.Equal(5010, root.GetProperty("connections").GetInt64());
        Assert.Equal(1000, root.GetProperty("distinct").GetInt64());
        var listed = root.GetProperty("daemons").GetProperty("sshd").EnumerateArray().ToList();
        Assert.Equal(800, listed.Count);
        Assert.Equal(11, listed.Single(c => c.GetProperty("client").GetString() == "2001:db8::0:1").GetProperty("connections").GetInt64());
        var summarised = root.GetProperty("summarised");
        Assert.Equal(1000, summarised.GetProperty("max_distinct").GetInt32());
        Assert.Equal(4000, summarised.GetProperty("connections").GetInt64());
        Assert.InRange(summarised.GetProperty("distinct_estimate").GetInt64(), 3600, 4400);
        var tally = summarised.GetProperty("changes").EnumerateArray().Single();
        Assert.Equal("sshd", tally.GetProperty("daemon").GetString());
        Assert.Equal("denied", tally.GetProperty("after").GetString());
        Assert.Equal(3200, tally.GetProperty("connections").GetInt64());
        Assert.Equal($"{deny}:1", tally.GetProperty("rule").GetString());
        // Never silently dropped: every connection is listed, held unchanged (the first 200 ftpd ones) or summarised.
        Assert.Equal(5010, listed.Sum(c => c.GetProperty("connections").GetInt64()) + 200 + summarised.GetProperty("connections").GetInt64());

        var text = CliRunner.Run(dir.Path, args);
        Assert.Equal(0, text.ExitCode);
        Assert.StartsWith("5010 connection(s) replayed, 1000 distinct listed and about ", text.Stdout);
        Assert.Contains("\nsummarised: 4000 connection(s), about ", text.Stdout);
        Assert.Contains("past the first 1000 distinct", text.Stdout);
        Assert.Contains("\nsummarised past the first 1000 distinct: 3200 connection(s) change\n", text.Stdout);
        Assert.Contains("granted -> denied  3200 connection(s)  by ", text.Stdout);
        Assert.Contains("more than 1000 distinct connections; 4000 connection(s) past them are summarised", text.Stderr);
    }

    [Fact]
    public void Replay_WithinTheLimit_SaysNothingOfASummary()
    {
        using var dir = new TempDir();
        var cur = dir.Write("cur", "");
        var deny = dir.Write("deny", "ALL: ALL\n");
        var log = dir.Write("decisions.jsonl", Line("sshd", "192.0.2.1") + Line("sshd", "192.0.2.2") + Line("sshd", "192.0.2.1"));
        var json = CliRunner.Run(dir.Path, "replay", "--log", log, "--allow", cur, "--deny", deny, "--current-allow", cur, "--current-deny", cur, "--json", "--max-distinct", "2");
        using var doc = JsonDocument.Parse(json.Stdout);
        Assert.False(doc.RootElement.TryGetProperty("summarised", out _));
        Assert.Equal(2, doc.RootElement.GetProperty("distinct").GetInt64());
        Assert.Equal("", json.Stderr);
    }

    [Fact]
    public void Replay_HostileLogPastTheDefaultLimit_ReplaysWithinAFixedHeap()
    {
        // 500,000 distinct random-looking IPv6 sources, all changing verdict. Holding each (as replay
        // once did) needs well over 192 MiB of heap and the runtime gives up; held up to the default
        // limit it needs about half of it.
        using var dir = new TempDir();
        var curAllow = dir.Write("cur.allow", "sshd: [2001:db8::]/32\n");
        var deny = dir.Write("deny", "ALL: ALL\n");
        var newAllow = dir.Write("new.allow", "");
        var log = WriteHostileLog(dir);
        var heapLimit = new Dictionary<string, string> { ["DOTNET_GCHeapHardLimit"] = "0xC000000" };
        var r = CliRunner.FeedWith(dir.Path, null, heapLimit,
            "replay", "--log", log, "--allow", newAllow, "--deny", deny, "--current-allow", curAllow, "--current-deny", deny, "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        Assert.Equal(500_000, doc.RootElement.GetProperty("connections").GetInt64());
        Assert.Equal(100_000, doc.RootElement.GetProperty("distinct").GetInt64());
        Assert.Equal(400_000, doc.RootElement.GetProperty("summarised").GetProperty("connections").GetInt64());
    }

    [Fact]
    public void Edit_HostileDecisionLog_ShowsTheSummaryWithinAFixedHeap()
    {
        // edit shows what the change does to the connections of the decision log, through replay's code.
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "sshd: [2001:db8::]/32\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var log = WriteHostileLog(dir);
        var conf = dir.Write("giftwrap.conf", $"[log]\ndecisions = {log}\n");
        var editor = "sh -c 'echo \"sshd: 192.0.2.1\" > \"$0\"'";
        var env = new Dictionary<string, string> { ["EDITOR"] = editor, ["VISUAL"] = editor, ["DOTNET_GCHeapHardLimit"] = "0xC000000" };
        var r = CliRunner.FeedWith(dir.Path, null, env, "edit", "-d", "--config", conf, "--yes");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("500000 connection(s) replayed, 100000 distinct listed and about ", r.Stdout);
        Assert.Contains("\nsummarised: 400000 connection(s), about ", r.Stdout);
        Assert.Equal("sshd: 192.0.2.1\n", File.ReadAllText(allow));
    }

    private static string WriteHostileLog(TempDir dir)
    {
        var log = Path.Combine(dir.Path, "decisions.jsonl");
        using var w = new StreamWriter(log);
        for (var i = 0; i < 500_000; i++)
            w.Write(Line("sshd", $"2001:db8::{i >> 16:x}:{i & 0xffff:x}"));
        return log;
    }
}
