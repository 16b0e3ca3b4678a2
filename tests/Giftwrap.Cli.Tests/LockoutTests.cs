// `check` protects the administrator's own way in: this SSH session and the clients
// under [safety] keep must stay granted, and the refusing rule is named.
namespace Giftwrap.Cli.Tests;

public sealed class LockoutTests
{
    private static readonly Dictionary<string, string> Session = new() { ["SSH_CONNECTION"] = "10.20.30.40 51000 10.0.0.1 22" };

    private static CliResult Check(TempDir dir, string allow, string deny, string? keep = null)
    {
        dir.Write("hosts.allow", allow);
        dir.Write("hosts.deny", deny);
        var conf = dir.Write("giftwrap.conf", keep is null ? "" : $"[safety]\nkeep = {keep}\n");
        return CliRunner.FeedWith(dir.Path, null, Session, "check", "-d", "--config", conf);
    }

    [Fact]
    public void Check_SessionStillGranted_Passes()
    {
        using var dir = new TempDir();
        var r = Check(dir, "sshd: 10.20.30.0/24 192.0.2.0/24\n", "ALL: ALL\n", keep: "sshd@192.0.2.0/24");
        Assert.DoesNotContain("lockout", r.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_NewDenyRule_CatchesTheLockoutOfThisSession()
    {
        using var dir = new TempDir();
        var r = Check(dir, "", "sshd: 10.20.0.0/16\n");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("lockout: sshd from 10.20.30.40 ($SSH_CONNECTION (this SSH session)) would be refused by hosts.deny line 1: sshd: 10.20.0.0/16", r.Stdout);
    }

    [Fact]
    public void Check_DenyMovedAboveAllow_NamesTheRule()
    {
        using var dir = new TempDir();
        var r = Check(dir, "ALL: ALL: deny\nsshd: 10.20.30.40: allow\n", "", keep: "sshd@10.20.30.40");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("would be refused by hosts.allow line 1: ALL: ALL: deny", r.Stdout);
    }

    [Fact]
    public void Check_TypoDropsTheAllowLine_IsCaught()
    {
        using var dir = new TempDir();
        // The missing ':' makes libwrap skip the line that granted the admin network.
        var r = Check(dir, "sshd 10.20.30.0/24\n", "ALL: ALL\n");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("missing \":\" separator", r.Stdout);
        Assert.Contains("lockout: sshd from 10.20.30.40", r.Stdout);
    }

    [Fact]
    public void Check_KeepNetwork_IsCheckedAtBothEnds()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: 10.20.30.40 192.0.2.0/255.255.255.128\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var conf = dir.Write("giftwrap.conf", "[safety]\nkeep = sshd@192.0.2.0/24 ; the office\n");
        var r = CliRunner.FeedWith(dir.Path, null, Session, "check", "-d", "--config", conf);
        Assert.Contains("lockout: sshd from 192.0.2.255", r.Stdout);
        Assert.DoesNotContain("lockout: sshd from 192.0.2.0 ", r.Stdout);
    }

    [Fact]
    public void Ban_KeptClient_IsRefused_SoTheHostsDenyBlockNeverLocksItOut()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", $"[bans]\nstore = {dir.Path}/store\nhosts_deny = {dir.Path}/hosts.deny\n[safety]\nkeep = sshd@203.0.113.0/24\n");
        var refused = CliRunner.Run(dir.Path, "ban", "203.0.113.9", "--config", conf);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("protected", refused.Stderr);
        Assert.Equal(0, CliRunner.Run(dir.Path, "ban", "198.51.100.9", "--config", conf).ExitCode);
        var deny = File.ReadAllText(Path.Combine(dir.Path, "hosts.deny"));
        Assert.Contains("198.51.100.9", deny);
        Assert.DoesNotContain("203.0.113", deny);
    }
}
