using System.Diagnostics;
using System.Net;

namespace Giftwrap.Bans.Tests;

public class CliTests
{
    [Fact]
    public void Ban_AddressOfSshSession_RefusedUnlessForced()
    {
        using var dir = new TempStore();
        var config = dir.Config();
        var ssh = new Dictionary<string, string?> { ["SSH_CONNECTION"] = "198.51.100.23 51234 192.0.2.1 22" };
        var refused = BanCli.RunWith(ssh, "ban", "198.51.100.0/24", "--config", config);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("SSH_CONNECTION", refused.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, BanCli.RunWith(ssh, "ban", "198.51.100.24", "--config", config).ExitCode);
        var forced = BanCli.RunWith(ssh, "ban", "198.51.100.23", "--force", "--config", config);
        Assert.Equal(0, forced.ExitCode);
        var list = BanCli.Run("bans", "--json", "--config", config);
        Assert.Contains("\"198.51.100.23\"", list.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("198.51.100.0/24", list.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ban", "10.1")]
    [InlineData("ban", "1.2.3.4/24")]
    [InlineData("ban", "nonsense")]
    [InlineData("ban", "192.0.2.5", "--for", "10 minutes")]
    [InlineData("ban", "192.0.2.5", "--for", "0")]
    [InlineData("ban", "192.0.2.5", "--daemon", "ssh:d")]
    [InlineData("unban", "2001:db8::1/64")]
    public void MalformedInput_ClearErrorAndNothingChanged(params string[] args)
    {
        using var dir = new TempStore();
        var config = dir.Config();
        Assert.Equal(0, BanCli.Run("ban", "192.0.2.200", "--reason", "before", "--config", config).ExitCode);
        var journal = Path.Combine(dir.StoreDir, "journal");
        var before = File.ReadAllBytes(journal);
        var result = BanCli.Run([.. args, "--config", config]);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("giftwrap: ", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(journal));
    }

    [Fact]
    public void Ban_ProtectedFromConfig_RefusedWithStatus1()
    {
        using var dir = new TempStore();
        var config = dir.Config("protect = 192.0.2.0/24 2001:db8::7   ; office\n");
        var result = BanCli.Run("ban", "192.0.2.9", "--config", config);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("protected", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, BanCli.Run("ban", "127.0.0.1", "--config", config).ExitCode);
        Assert.Contains("no active bans", BanCli.Run("bans", "--config", config).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Ban_ChildKilledRightAfterAcknowledging_BanSurvives()
    {
        using var dir = new TempStore();
        var config = dir.Config();
        for (var i = 1; i <= 3; i++)
        {
            using var p = Process.Start(BanCli.StartInfo(null, "ban", $"192.0.2.{i}", "--for", "1d", "--config", config))!;
            var ack = p.StandardOutput.ReadLine(); // the acknowledgement: printed after the fsync
            p.Kill(); // SIGKILL, at once
            p.WaitForExit(30_000);
            Assert.StartsWith($"banned 192.0.2.{i}", ack, StringComparison.Ordinal);
        }
        using var store = BanStore.Open(new BanOptions { Store = dir.StoreDir }, watch: false);
        for (var i = 1; i <= 3; i++)
            Assert.NotNull(store.Find(IPAddress.Parse($"192.0.2.{i}"), "sshd", DateTimeOffset.UtcNow));
    }

    [Fact]
    public void Ban_FromAnotherProcess_SeenByWatchingStoreWithoutRestart()
    {
        using var dir = new TempStore();
        var config = dir.Config();
        using var store = BanStore.Open(new BanOptions { Store = dir.StoreDir }, watch: true);
        using var seen = new ManualResetEventSlim();
        store.Changed += (_, e) =>
        {
            if (e.Change.Kind == BanChangeKind.Banned && e.Change.Target.ToString() == "2001:db8::77" && !e.FromThisStore)
                seen.Set();
        };
        Assert.Equal(0, BanCli.Run("ban", "2001:db8::77", "--config", config).ExitCode);
        Assert.True(seen.Wait(TimeSpan.FromSeconds(10)));
        Assert.NotNull(store.Find(IPAddress.Parse("2001:db8::77"), "sshd", DateTimeOffset.UtcNow));
        Assert.Equal(0, BanCli.Run("unban", "2001:db8::77", "--config", config).ExitCode);
        Assert.True(SpinWait.SpinUntil(() => store.Find(IPAddress.Parse("2001:db8::77"), "sshd", DateTimeOffset.UtcNow) is null, 10_000));
    }

    [Fact]
    public void Bans_TextList_ShowsColumns()
    {
        using var dir = new TempStore();
        var config = dir.Config();
        Assert.Equal(0, BanCli.Run("ban", "::ffff:192.0.2.44", "--for", "2h", "--reason", "port scan", "--daemon", "sshd,vsftpd", "--config", config).ExitCode);
        var list = BanCli.Run("bans", "--config", config);
        Assert.Equal(0, list.ExitCode);
        var row = list.Stdout.Split('\n')[1];
        Assert.Matches(@"^192\.0\.2\.44\s+sshd,vsftpd\s+port scan\s+\S+\s+(1h59m|2h)", row);
    }

    [Fact]
    public void Bans_TextList_ControlCharactersFromAnotherHostNotSentToTheTerminal()
    {
        // A fleet member's reason and origin reach `giftwrap bans`: an escape sequence in them must
        // not reach the administrator's terminal (clearing the screen, hiding rows, setting its title).
        using var dir = new TempStore();
        var config = dir.Config();
        using (var store = BanStore.Open(new BanOptions { Store = dir.StoreDir }, watch: false))
        {
            var now = DateTimeOffset.UtcNow;
            var entry = new BanEntry
            {
                Target = BanTarget.Parse("192.0.2.60"),
                Created = now,
                Expires = now.AddHours(1),
                Reason = "scan\u001b[2J\u001b[1Ahidden\u009b31m",
                Origin = "rogue\u001b]0;owned\u0007",
            };
            Assert.Equal(BanOutcome.Banned, store.ApplyRemote(new BanChange { Kind = BanChangeKind.Banned, Target = entry.Target, Entry = entry, At = now, Origin = entry.Origin }).Outcome);
        }
        var list = BanCli.Run("bans", "--config", config);
        Assert.Equal(0, list.ExitCode);
        Assert.DoesNotContain(list.Stdout, c => char.IsControl(c) && c != '\n');
        Assert.Contains("scan?[2J?[1Ahidden?31m", list.Stdout, StringComparison.Ordinal);
        Assert.Contains("rogue?]0;owned?", list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Bans_TextList_C1ControlInARemoteDaemonName_NotSentToTheTerminal()
    {
        // A remote ban's daemon names are checked for what hosts.deny cannot carry (blanks, C0, ':'),
        // which lets C1 controls through: U+009B is CSI to a terminal, as ESC [ is.
        using var dir = new TempStore();
        var config = dir.Config();
        using (var store = BanStore.Open(new BanOptions { Store = dir.StoreDir }, watch: false))
        {
            var now = DateTimeOffset.UtcNow;
            var entry = new BanEntry
            {
                Target = BanTarget.Parse("192.0.2.61"),
                Created = now,
                Expires = now.AddHours(1),
                Daemons = ["sshd\u009b2J", "ftpd"],
                Origin = "rogue",
            };
            Assert.Equal(BanOutcome.Banned, store.ApplyRemote(new BanChange { Kind = BanChangeKind.Banned, Target = entry.Target, Entry = entry, At = now, Origin = entry.Origin }).Outcome);
        }
        var list = BanCli.Run("bans", "--config", config);
        Assert.Equal(0, list.ExitCode);
        Assert.DoesNotContain(list.Stdout, c => char.IsControl(c) && c != '\n');
        Assert.Contains("sshd?2J,ftpd", list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_Missing_Error()
    {
        var result = BanCli.Run("bans", "--config", "/nonexistent/giftwrap.conf");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("/nonexistent/giftwrap.conf", result.Stderr, StringComparison.Ordinal);
    }
}
