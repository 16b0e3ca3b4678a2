using System.Text.Json;

namespace Giftwrap.Cli.Tests;

public sealed class CheckCommandTests
{
    [Fact]
    public void Check_CleanTables_ExitsZero()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: 10.0.0.0/8 [2001:db8::]/32\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var r = CliRunner.Run(dir.Path, "check", "-d");
        Assert.Equal(0, r.ExitCode);
        Assert.EndsWith("0 error(s), 0 warning(s)\n", r.Stdout);
    }

    [Fact]
    public void Check_Problems_AreReportedWithPlaceAndFix()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow",
            "sshd: 10.0.0.0/8 : spawn echo hi : bogus\n" +   // 1 bad option
            "sshd ALL\n" +                                   // 2 missing colon
            "sshd: 0.0.0.0/0, 10.0.0.5/8, 10.0.0.0/33\n" +   // 3 patterns matching nothing
            "sshd: 2001:db8::1\n" +                          // 4 IPv6 without brackets
            "ALL: ALL: allow\n" +                            // 5
            "ftpd: 192.0.2.1\n");                            // 6 shadowed by 5
        dir.Write("hosts.deny", "ALL: 192.0.2.9\n");         // shadowed by allow line 5
        var r = CliRunner.Run(dir.Path, "check", "-d", "--json");
        Assert.Equal(1, r.ExitCode);
        using var doc = JsonDocument.Parse(r.Stdout);
        var found = doc.RootElement.GetProperty("diagnostics").EnumerateArray()
            .Select(d => (File: d.GetProperty("file").GetString(), Line: d.GetProperty("line").GetInt32(), Code: d.GetProperty("code").GetString(), Column: d.GetProperty("column").GetInt32()))
            .ToList();
        Assert.Contains(("hosts.allow", 1, "option", 36), found);
        Assert.Contains(("hosts.allow", 2, "missing-colon", 1), found);
        Assert.Contains(("hosts.allow", 3, "never-matches", 7), found);
        Assert.Contains(("hosts.allow", 3, "never-matches", 18), found);
        Assert.Contains(("hosts.allow", 3, "never-matches", 30), found);
        Assert.Contains(found, d => d is { Line: 4, Code: "ipv6-brackets" });
        Assert.Contains(found, d => d is { Line: 6, Code: "shadowed" });
        Assert.Contains(found, d => d is { File: "hosts.deny", Line: 1, Code: "shadowed" });
        Assert.All(doc.RootElement.GetProperty("diagnostics").EnumerateArray().Where(d => d.GetProperty("code").GetString() == "never-matches"),
            d => Assert.False(string.IsNullOrEmpty(d.GetProperty("fix").GetString())));
    }

    [Fact]
    public void Check_Verbose_ListsEveryRule()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: LOCAL: severity auth.info\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "-v");
        Assert.Contains(">>> Rule hosts.allow line 1:\ndaemons:  sshd\nclients:  LOCAL\noption:   severity auth.info\naccess:   granted\n", r.Stdout);
        Assert.Contains(">>> Rule hosts.deny line 1:\ndaemons:  ALL\nclients:  ALL\naccess:   denied\n", r.Stdout);
    }

    [Fact]
    public void Check_ExplicitAllow_FlagsImplicitGrants()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: LOCAL\nftpd: LOCAL: allow\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "-a");
        Assert.Contains("hosts.allow:1:1: warning: grants access without an explicit allow option", r.Stdout);
        Assert.DoesNotContain("hosts.allow:2:1", r.Stdout);
    }

    [Fact]
    public void Check_Ban_IsAWarning_AndTheRuleIsListedAsDenied()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: 10.0.0.0/8 : ban 10m\nALL: 10.0.0.0/8 : user nosuchuser4711\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "-v", "--no-dns");
        Assert.Contains("hosts.allow:1:20: warning: ban is a Giftwrap extension", r.Stdout);
        Assert.Contains(">>> Rule hosts.allow line 1:\ndaemons:  sshd\nclients:  10.0.0.0/8\noption:   ban 10m\naccess:   denied\n", r.Stdout);
        Assert.Contains(">>> Rule hosts.allow line 2:\ndaemons:  ALL\nclients:  10.0.0.0/8\noption:   user nosuchuser4711\naccess:   denied\n", r.Stdout);
        Assert.DoesNotContain("info: ban", r.Stdout);
    }

    [Fact]
    public void Check_TwistRule_IsListedWithItsTablesVerdict_AsTcpdchkDoes()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "in.fingerd: 10.0.0.0/8 : twist /bin/echo no\n");
        dir.Write("hosts.deny", "in.telnetd: ALL : twist /bin/echo go away\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "-v", "--no-dns");
        Assert.Contains(">>> Rule hosts.allow line 1:\ndaemons:  in.fingerd\nclients:  10.0.0.0/8\noption:   twist /bin/echo no\naccess:   granted\n", r.Stdout);
        Assert.Contains(">>> Rule hosts.deny line 1:\ndaemons:  in.telnetd\nclients:  ALL\noption:   twist /bin/echo go away\naccess:   denied\n", r.Stdout);
    }

    [Theory]
    [InlineData("sshd: 10.0.0.0/8 EXCEPT\n", "client list is empty or ends in EXCEPT")]
    [InlineData("sshd except: 10.0.0.0/8\n", "daemon list is empty or ends in EXCEPT")]
    [InlineData("FAIL: 10.0.0.0/8\n", "FAIL is no longer recognized")]
    [InlineData("KNOWN: 10.0.0.0/8\n", "KNOWN: daemon name may be reserved word")]
    [InlineData("sshd: LOCAL@10.0.0.0/8\n", "LOCAL: user name may be reserved word")]
    [InlineData("sshd.: 10.0.0.0/8\n", "sshd.: daemon name ends in dot")]
    [InlineData("sshd: host.example.\n", "host.example.: domain or host name ends in dot")]
    [InlineData("sshd: .10.1\n", ".10.1: network number begins with dot")]
    [InlineData("sshd: 10.0/255.0.0.0\n", "10.0/255.0.0.0: bad net/mask pattern")]
    [InlineData("sshd: 10.0.0.0/8 : spawn echo %z\n", "unrecognized %z")]
    public void Check_TcpdchkWarnings_AreReported(string table, string message)
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", table);
        var r = CliRunner.Run(dir.Path, "check", "-d", "--no-dns");
        Assert.Contains("hosts.allow:1", r.Stdout);
        Assert.Contains($"warning: {message}", r.Stdout);
    }

    [Fact]
    public void Check_Ipv6MaskWrittenAsAddress_HintsThePrefixLength()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: [2001:db8::]/ffff:ffff::\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "--no-dns");
        Assert.Contains("(write [2001:db8::]/32)", r.Stdout);
        Assert.DoesNotContain("write [ffff:ffff]", r.Stdout);
    }

    [Fact]
    public void Check_InetdConf_SaysWhichDaemonsAreNotWrapped()
    {
        using var dir = new TempDir();
        var inetd = dir.Write("inetd.conf",
            "telnet stream tcp nowait root /usr/sbin/tcpd in.telnetd\n" +
            "talk dgram udp wait nobody.tty /usr/sbin/in.talkd in.talkd\n" +
            "daytime stream tcp nowait root internal\n");
        dir.Write("hosts.allow", "in.telnetd: 10.0.0.0/8\nin.talkd: 10.0.0.0/8\nin.rshd: 10.0.0.0/8\nsshd: 10.0.0.0/8\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "--no-dns", "-i", inetd);
        Assert.Contains("hosts.allow:2:1: warning: in.talkd: service possibly not wrapped", r.Stdout);
        Assert.Contains($"hosts.allow:3:1: warning: in.rshd: no such process name in {inetd}", r.Stdout);
        Assert.DoesNotContain("hosts.allow:1:", r.Stdout);
        Assert.DoesNotContain("hosts.allow:4:", r.Stdout);
        var missing = CliRunner.Run(dir.Path, "check", "-d", "--no-dns", "-i", Path.Combine(dir.Path, "nonesuch"));
        Assert.Equal(1, missing.ExitCode);
    }

    [Fact]
    public void Check_PatternFile_IsCheckedWordByWord_AndALoopIsReportedNotFollowed()
    {
        using var dir = new TempDir();
        var list = Path.Combine(dir.Path, "clients.txt");
        File.WriteAllText(list, $"10.0.0.0/8\n  bad.example. {list}\n");
        dir.Write("hosts.allow", $"sshd: 10.0.0.0/8, {list}\n");
        var r = CliRunner.Run(dir.Path, "check", "-d", "--no-dns");
        Assert.Contains($"{list}:2:3: warning: bad.example.: domain or host name ends in dot", r.Stdout);
        Assert.Contains($"{list}:2:16: warning: {list}: this pattern file includes itself", r.Stdout);
    }
}
