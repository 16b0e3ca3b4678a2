using System.Text;
using Giftwrap.Bans.HostsDeny;

namespace Giftwrap.Bans.Tests;

public class HostsDenyTests
{
    private const string Before = "# /etc/hosts.deny\r\nALL: .evil.example  \n\nsshd: 192.0.2.1 # odd\tbytes \u00e9\n";
    private const string After = "in.fingerd: ALL\n# no newline at the end";

    [Fact]
    public void Sync_ReplacesOnlyTheBlock_RestByteForByte()
    {
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "hosts.deny");
        File.WriteAllBytes(path, Encoding.UTF8.GetBytes(Before + HostsDenyFile.BeginMarker + "\nold stuff\n" + HostsDenyFile.EndMarker + "\n" + After));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        using var store = BanStore.Open(dir.Options() with { HostsDeny = path }, watch: false);
        store.Ban(new BanRequest { Target = BanTarget.Parse("2001:db8::/64"), Duration = TimeSpan.FromHours(1) });
        store.Ban(new BanRequest { Target = BanTarget.Parse("198.51.100.0/24"), Daemons = ["sshd", "vsftpd"] });
        var text = File.ReadAllText(path);
        Assert.StartsWith(Before + HostsDenyFile.BeginMarker + "\n", text, StringComparison.Ordinal);
        Assert.EndsWith(HostsDenyFile.EndMarker + "\n" + After, text, StringComparison.Ordinal);
        Assert.Contains("ALL: [2001:db8::]/64\n", text, StringComparison.Ordinal);
        Assert.Contains("sshd, vsftpd: 198.51.100.0/255.255.255.0\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("old stuff", text, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(path));
        store.Unban(BanTarget.Parse("2001:db8::/64"));
        store.Unban(BanTarget.Parse("198.51.100.0/24"));
        var emptied = File.ReadAllText(path);
        Assert.Equal(Before + Encoding.UTF8.GetString(HostsDenyFile.Render([])) + After, emptied);
        Assert.Empty(store.Problems);
    }

    [Fact]
    public void Sync_NoBlockYet_AppendedAfterUntouchedContent()
    {
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "hosts.deny");
        File.WriteAllText(path, Before);
        using var store = BanStore.Open(dir.Options() with { HostsDeny = path }, watch: false);
        store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.50") });
        Assert.Equal(Before + HostsDenyFile.BeginMarker + "\n", File.ReadAllText(path)[..(Before.Length + HostsDenyFile.BeginMarker.Length + 1)]);
    }

    [Fact]
    public void Sync_FileIsASymlink_TargetUpdatedLinkKept()
    {
        // /etc/hosts.deny as a link to a file kept elsewhere (configuration management): the block goes
        // into the file the link names, and the link stays. Replaced by a regular file, it left the
        // administrator's later edits of the real file unread by libwrap.
        using var dir = new TempStore();
        var real = Path.Combine(Directory.CreateDirectory(Path.Combine(dir.Dir, "managed")).FullName, "hosts.deny");
        File.WriteAllText(real, Before);
        var link = Path.Combine(dir.Dir, "hosts.deny");
        File.CreateSymbolicLink(link, "managed/hosts.deny");
        using var store = BanStore.Open(dir.Options() with { HostsDeny = link }, watch: false);
        store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.51") });
        Assert.Equal("managed/hosts.deny", new FileInfo(link).LinkTarget);
        Assert.StartsWith(Before + HostsDenyFile.BeginMarker + "\n", File.ReadAllText(real), StringComparison.Ordinal);
        Assert.Contains("ALL: 192.0.2.51\n", File.ReadAllText(real), StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(dir.Dir, ".hosts.deny*"));
        Assert.Empty(store.Problems);
    }

    [Fact]
    public void Replace_BeginWithoutEnd_LeftAlone() =>
        Assert.Null(HostsDenyFile.Replace(Encoding.UTF8.GetBytes("a\n" + HostsDenyFile.BeginMarker + "\nb\n"), HostsDenyFile.Render([])));

    [Fact]
    public async Task Sync_AppenderHeldUpBetweenItsOpenAndItsWrite_LineCarriedOver()
    {
        // An appender that opened the file before a sync replaced it, and wrote only after (descheduled on
        // a loaded machine, as CI's two cores are): its line goes to the old file. It was looked at for
        // 20 ms after the rename, and a line written later was lost.
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "hosts.deny");
        File.WriteAllText(path, Before);
        using var store = BanStore.Open(dir.Options() with { HostsDeny = path }, watch: false);
        var late = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        store.Ban(new BanRequest { Target = BanTarget.Parse("198.51.100.1") });
        await Task.Delay(300);
        late.Write("ALL: 203.0.113.1 # late\n"u8);
        late.Dispose();
        for (var i = 0; i < 100 && !File.ReadAllText(path).Contains("# late", StringComparison.Ordinal); i++)
            await Task.Delay(50);
        Assert.Contains("ALL: 203.0.113.1 # late\n", File.ReadAllText(path), StringComparison.Ordinal);

        // One written later still, and a sync before the background look: the sync carries it first.
        late = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        store.Ban(new BanRequest { Target = BanTarget.Parse("198.51.100.2") });
        late.Write("ALL: 203.0.113.2 # later\n"u8);
        late.Dispose();
        store.Ban(new BanRequest { Target = BanTarget.Parse("198.51.100.3") });
        var text = File.ReadAllText(path);
        Assert.Contains("ALL: 203.0.113.2 # later\n", text, StringComparison.Ordinal);
        Assert.Contains("ALL: 198.51.100.3\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), l => l == "ALL: 203.0.113.1 # late");
        Assert.Empty(store.Problems);
    }

    [Fact]
    public async Task Sync_ConcurrentAppender_NoLineLost()
    {
        using var dir = new TempStore();
        var path = Path.Combine(dir.Dir, "hosts.deny");
        File.WriteAllText(path, Before);
        using var store = BanStore.Open(dir.Options() with { HostsDeny = path }, watch: false);
        // Fail2ban's hostsdeny action: `printf ... >> FILE`, a shell's O_APPEND open, one line, close.
        var appended = Enumerable.Range(0, 400).Select(i => $"ALL: 203.0.113.{i % 250} # appended {i}\n").ToList();
        using var shell = System.Diagnostics.Process.Start("sh",
            ["-c", "i=0; while [ $i -lt 400 ]; do printf 'ALL: 203.0.113.%d # appended %d\\n' $((i % 250)) $i >> \"$0\"; sleep 0.001; i=$((i + 1)); done", path])!;
        var appender = shell.WaitForExitAsync();
        for (var i = 1; i <= 40 && !appender.IsCompleted; i++)
            store.Ban(new BanRequest { Target = BanTarget.Parse($"198.51.100.{i}") });
        await appender.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, shell.ExitCode);
        store.Ban(new BanRequest { Target = BanTarget.Parse("198.51.100.200") });
        var text = File.ReadAllText(path);
        Assert.StartsWith(Before, text, StringComparison.Ordinal);
        foreach (var line in appended)
            Assert.Contains(line, text, StringComparison.Ordinal);
        Assert.Contains("ALL: 198.51.100.200\n", text, StringComparison.Ordinal);
    }
}
