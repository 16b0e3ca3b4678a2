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
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Edit_TableBehindASymlink_ReplacesTheFileItNames_KeepingItsModeAndOwner()
    {
        // /etc/hosts.allow kept elsewhere by configuration management, readable by one group only.
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "real"));
        var real = dir.Write("real/hosts.allow", "sshd: 10.0.0.0/8\n");
        const UnixFileMode groupOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
        File.SetUnixFileMode(real, groupOnly);
        var root = Environment.UserName == "root";
        if (root)
            Assert.Equal(0, Run("chown", "65534:65534", real).ExitCode);
        var allow = Path.Combine(dir.Path, "hosts.allow");
        File.CreateSymbolicLink(allow, "real/hosts.allow");
        dir.Write("hosts.deny", "");
        var r = Edit(dir, "sh -c 'stat -c %a \"$0\" > draft-mode; echo \"ftpd: 192.0.2.1\" >> \"$0\"'");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("real/hosts.allow", new FileInfo(allow).LinkTarget);
        Assert.Equal("sshd: 10.0.0.0/8\nftpd: 192.0.2.1\n", File.ReadAllText(real));
        Assert.Equal(groupOnly, File.GetUnixFileMode(real));
        if (root)
            Assert.Equal("65534:65534\n", Run("stat", "-c", "%u:%g", real).Stdout);
        // Neither the copy in the editor nor the previous version may be read by those who cannot read the table.
        Assert.Equal("600\n", File.ReadAllText(Path.Combine(dir.Path, "draft-mode")));
        Assert.Equal(groupOnly, File.GetUnixFileMode(allow + ".giftwrap-previous"));
        if (root)
            Assert.Equal("65534:65534\n", Run("stat", "-c", "%u:%g", allow + ".giftwrap-previous").Stdout);
        Assert.Equal(["draft-mode", "giftwrap.conf", "hosts.allow", "hosts.allow.giftwrap-previous", "hosts.deny", "real"],
            Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Edit_TableChangedWhileEditing_IsNotOverwritten()
    {
        // Another edit, or `giftwrap ban` keeping its block of hosts.deny, writes the table meanwhile:
        // replacing it with the copy taken before would undo that change without a word.
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        var deny = dir.Write("hosts.deny", "ALL: 192.0.2.1\n");
        var r = Edit(dir, "sh -c 'echo \"ALL: 198.51.100.7\" >> hosts.deny; echo \"sshd: 203.0.113.9\" >> \"$0\"'", null, "deny");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("changed while", r.Stderr);
        Assert.Equal("ALL: 192.0.2.1\nALL: 198.51.100.7\n", File.ReadAllText(deny));
        var kept = Assert.Single(Directory.GetFiles(dir.Path, "*.kept"));
        Assert.Equal("ALL: 192.0.2.1\nsshd: 203.0.113.9\n", File.ReadAllText(kept));
        Assert.False(File.Exists(deny + ".giftwrap-previous"));
    }

    [Fact]
    public void Edit_EmptyVisual_FallsBackToEditor()
    {
        // VISUAL= (set, empty) is unset to git and visudo; run as the editor, the draft itself was executed.
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "sshd: 10.0.0.0/8\n");
        dir.Write("hosts.deny", "");
        var conf = dir.Write("giftwrap.conf", "");
        var env = new Dictionary<string, string> { ["VISUAL"] = "", ["EDITOR"] = "sh -c 'echo \"ftpd: 192.0.2.1\" >> \"$0\"'" };
        var r = CliRunner.FeedWith(dir.Path, null, env, ["edit", "-d", "--config", conf, "--yes"]);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("sshd: 10.0.0.0/8\nftpd: 192.0.2.1\n", File.ReadAllText(allow));
    }

    [Fact]
    public void Edit_TableThatIsNotAFile_IsRefusedBeforeTheEditorRuns()
    {
        // A directory went to the editor as an empty table and failed only at the rename, leaving a
        // stray .giftwrap-previous; a FIFO hung the edit reading it, waiting for a writer.
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "hosts.allow"));
        dir.Write("hosts.deny", "");
        var r = Edit(dir, "sh -c 'echo ran > ran; echo \"ftpd: 192.0.2.1\" >> \"$0\"'");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot edit hosts.allow: a directory, not a regular file", r.Stderr, StringComparison.Ordinal);
        Directory.Delete(Path.Combine(dir.Path, "hosts.allow"));
        Assert.Equal(0, Run("mkfifo", Path.Combine(dir.Path, "hosts.allow")).ExitCode);
        r = Edit(dir, "sh -c 'echo ran > ran; echo \"ftpd: 192.0.2.1\" >> \"$0\"'");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("cannot edit hosts.allow: a FIFO, not a regular file", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(["giftwrap.conf", "hosts.allow", "hosts.deny"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Edit_DiskFullAtTheReplace_KeepsTheTableAndTheEdit()
    {
        // On a 128 KiB tmpfs in a mount namespace of its own, a 40 KB table: the draft and the previous
        // copy fit, the new table does not. The table stays whole; the edit was deleted with the draft.
        using var dir = new TempDir();
        var table = new System.Text.StringBuilder();
        for (var i = 0; i < 2400; i++)
            table.Append(System.Globalization.CultureInfo.InvariantCulture, $"sshd: 10.{i / 250}.{i % 250}.1\n");
        dir.Write("hosts.allow", table.ToString());
        dir.Write("hosts.deny", "");
        dir.Write("giftwrap.conf", "");
        var disk = Directory.CreateDirectory(Path.Combine(dir.Path, "disk")).FullName;
        var script = "mount -t tmpfs -o size=128k giftwrap-test \"$1\" && cp \"$2/hosts.allow\" \"$2/hosts.deny\" \"$2/giftwrap.conf\" \"$1/\" && cd \"$1\" && shift 2 "
            + "&& \"$@\"; echo \"status $?\"; ls -A; cmp hosts.allow \"$OLDPWD/hosts.allow\" && echo same; tail -n 1 .*.kept";
        var psi = new System.Diagnostics.ProcessStartInfo("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", disk, dir.Path,
            "dotnet", CliRunner.Dll, "edit", "-d", "--config", "giftwrap.conf", "--yes"])
        {
            WorkingDirectory = dir.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment.Remove("VISUAL");
        psi.Environment.Remove("SSH_CONNECTION");
        psi.Environment["EDITOR"] = "sh -c 'for i in $(seq 250); do echo \"ftpd: 192.0.2.$((i % 250))\"; done >> \"$0\"'";
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = (await p.StandardOutput.ReadToEndAsync()).Split('\n');
        await p.WaitForExitAsync();
        Assert.Contains("No space left on device", await stderr, StringComparison.Ordinal);
        Assert.Contains("status 1", stdout);
        Assert.Contains("same", stdout);
        Assert.DoesNotContain(stdout, l => l.Contains("giftwrap-tmp", StringComparison.Ordinal));
        Assert.Single(stdout, l => l.EndsWith(".kept", StringComparison.Ordinal));
        Assert.Contains("ftpd: 192.0.2.0", stdout);
    }

    private static CliResult Run(string program, params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, args) { RedirectStandardOutput = true })!;
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout, "");
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
