// `giftwrap edit` like visudo: the editor's result is checked (lockout included)
// before it replaces the table; failures leave the table untouched; a change made
// with --confirm-within comes back by itself unless confirmed.
namespace Giftwrap.Cli.Tests;

public sealed class EditTests
{
    private static CliResult Edit(TempDir dir, string editor, string? ssh = null, params string[] more)
    {
        var env = new Dictionary<string, string> { ["EDITOR"] = editor, ["VISUAL"] = editor };
        if (ssh is not null)
            env["SSH_CONNECTION"] = ssh;
        var conf = dir.Write("giftwrap.conf", "");
        return CliRunner.FeedWith(dir.Path, null, env, ["edit", .. more, "-d", "--config", conf, "--yes"]);
    }

    [Fact]
    public void Edit_GoodChange_ReplacesAndKeepsThePrevious()
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "sshd: 10.0.0.0/8\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var r = Edit(dir, "sh -c 'echo \"ftpd: 192.0.2.1\" >> \"$0\"'");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("sshd: 10.0.0.0/8\nftpd: 192.0.2.1\n", File.ReadAllText(allow));
        Assert.Equal("sshd: 10.0.0.0/8\n", File.ReadAllText(allow + ".giftwrap-previous"));
    }

    [Fact]
    public void Edit_LockoutOfThisSession_IsRefused()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        var deny = dir.Write("hosts.deny", "ALL: 192.0.2.1\n");
        var r = Edit(dir, "sh -c 'echo \"ALL: ALL\" > \"$0\"'", "10.20.30.40 5000 10.0.0.1 22", "deny");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("lockout: sshd from 10.20.30.40", r.Stdout);
        Assert.Equal("ALL: 192.0.2.1\n", File.ReadAllText(deny));
    }

    [Fact]
    public void Edit_EditorFails_OrEmptiesTheFile_LeavesTheTable()
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "sshd: 10.0.0.0/8\n");
        dir.Write("hosts.deny", "");
        var failed = Edit(dir, "sh -c 'echo garbage > \"$0\"; exit 3'");
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("exited with status 3", failed.Stderr);
        var emptied = Edit(dir, "sh -c ': > \"$0\"'");
        Assert.Equal(1, emptied.ExitCode);
        Assert.Contains("empty", emptied.Stderr);
        Assert.Equal("sshd: 10.0.0.0/8\n", File.ReadAllText(allow));
    }

    [Fact]
    public async Task Edit_ConfirmWithin_RevertsWithoutConfirm_AndKeepsWithIt()
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "sshd: 10.0.0.0/8\n");
        dir.Write("hosts.deny", "");
        var r = Edit(dir, "sh -c 'echo \"ftpd: ALL\" >> \"$0\"'", null, "--confirm-within", "2s");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("ftpd: ALL", File.ReadAllText(allow));
        // The editing process is gone; the detached reverter puts the old table back.
        for (var i = 0; i < 100 && File.ReadAllText(allow) != "sshd: 10.0.0.0/8\n"; i++)
            await Task.Delay(100);
        Assert.Equal("sshd: 10.0.0.0/8\n", File.ReadAllText(allow));

        // Confirmed after the revert: said, not "nothing to confirm" with status 0.
        var late = CliRunner.Run(dir.Path, "confirm", "-d");
        Assert.Equal(1, late.ExitCode);
        Assert.Contains("too late: the previous version was put back", late.Stderr, StringComparison.Ordinal);
        Assert.Equal("nothing to confirm\n", CliRunner.Run(dir.Path, "confirm", "-d").Stdout);

        // Room for a loaded machine to start `giftwrap confirm` before the deadline (CI's reverted first).
        r = Edit(dir, "sh -c 'echo \"ftpd: ALL\" >> \"$0\"'", null, "--confirm-within", "8s");
        Assert.Equal(0, r.ExitCode);
        var confirmed = CliRunner.Run(dir.Path, "confirm", "-d");
        Assert.Equal(0, confirmed.ExitCode);
        Assert.Contains("change confirmed", confirmed.Stdout, StringComparison.Ordinal);
        await Task.Delay(10_000);
        Assert.Contains("ftpd: ALL", File.ReadAllText(allow));
        Assert.Empty(Directory.GetFiles(dir.Path, "*.giftwrap-re*"));
    }
}
