// Fail2ban and Giftwrap together, both real: Debian's fail2ban-server with the stock sshd filter
// and the shipped examples/fail2ban action, a real `giftwrap serve`, loopback clients.
// Fail2ban -> Giftwrap: failed logins in a log become bans in the store, which the gate
// enforces; Fail2ban's unban, its expiry and its restart go through the same way.
// Giftwrap -> Fail2ban: the gate's own refusal lines, through syslog to a log file, are what
// Fail2ban counts, and the ban it makes comes back to the gate through the store.
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class Fail2banJailTests
{
    [Fact]
    public async Task Fail2ban_SshdJail_BansThroughGiftwrap_GateRefuses_UnbanExpiryAndRestartFollow()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        dir.Write("hosts.deny", "");
        var cat = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{cat}\nexec = /bin/cat\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\n");
        var authLog = dir.Write("auth.log", "");
        var briefLog = dir.Write("brief.log", "");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        using var fail2ban = new Fail2banServer(dir.Path, [("sshd", authLog, 3600), ("sshd-brief", briefLog, 15)], conf);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        await fail2ban.StartAsync(jails: 2);
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(cat, "127.0.0.31"));

        // Three failed logins each: Fail2ban bans, and the ban is Giftwrap's, with the jail as the reason.
        for (var i = 1; i <= 3; i++)
        {
            File.AppendAllText(authLog, Fail2banServer.FailedPassword("127.0.0.31", i));
            File.AppendAllText(briefLog, Fail2banServer.FailedPassword("127.0.0.32", i));
        }
        await fail2ban.WaitForActionAsync("'banned 127.0.0.31 for 1h (offence 1)'");
        await fail2ban.WaitForActionAsync("'banned 127.0.0.32 for 15s (offence 1)'");
        // First, while the brief ban (15 s from the failures) is in force.
        Assert.True(await Eventually(async () => await GateBanTests.TalkAsync(cat, "127.0.0.32") == ""), "the gate never refused 127.0.0.32");
        var bans = Bans(conf);
        Assert.Equal("fail2ban sshd", Ban(bans, "127.0.0.31").GetProperty("reason").GetString());
        Assert.Equal("fail2ban sshd-brief", Ban(bans, "127.0.0.32").GetProperty("reason").GetString());
        Assert.True(await Eventually(async () => await GateBanTests.TalkAsync(cat, "127.0.0.31") == ""), "the gate never refused 127.0.0.31");
        await gate.WaitForAsync("cat: refused connect from 127.0.0.31 (127.0.0.31) (banned: fail2ban sshd)", TimeSpan.FromSeconds(10));

        // The brief jail's ban (15 s) expires in Fail2ban, which unbans it: gone from the store, served again.
        // (Its unban command ends before Fail2ban's "Unbanned 1" line; Giftwrap may have ended the ban first.)
        await fail2ban.WaitForAsync(l => l.Contains("Unbanned 1, 0 ticket(s) in 'sshd-brief'", StringComparison.Ordinal), "the brief ban to expire");
        Assert.DoesNotContain(Bans(conf).EnumerateArray(), b => b.GetProperty("address").GetString() == "127.0.0.32");
        Assert.True(await Eventually(async () => await GateBanTests.TalkAsync(cat, "127.0.0.32") == "hi\n"), "the gate still refuses 127.0.0.32 after its ban expired");

        // A restart of Fail2ban: the ban stays in force while it is down, and comes back as it was
        // (one entry, the same end, still the first offence: not banned twice).
        var before = Fixed(Ban(Bans(conf), "127.0.0.31"));
        fail2ban.Stop();
        Assert.Equal(before, Fixed(Ban(Bans(conf), "127.0.0.31")));
        Assert.Equal("", await GateBanTests.TalkAsync(cat, "127.0.0.31"));
        await fail2ban.StartAsync(jails: 2);
        await fail2ban.WaitForAsync(l => l.Contains("[sshd] Restore Ban 127.0.0.31", StringComparison.Ordinal), "the ban to be restored");
        await fail2ban.WaitForActionAsync("'127.0.0.31 is banned already (");
        var after = Bans(conf);
        Assert.Single(after.EnumerateArray());
        Assert.Equal(before, Fixed(Ban(after, "127.0.0.31")));
        Assert.Equal(1, Ban(after, "127.0.0.31").GetProperty("offences").GetInt32());

        // Fail2ban's unban of the restored ticket reaches the store and the gate.
        fail2ban.Client("set", "sshd", "unbanip", "127.0.0.31");
        Assert.Equal(0, Bans(conf).GetArrayLength());
        Assert.True(await Eventually(async () => await GateBanTests.TalkAsync(cat, "127.0.0.31") == "hi\n"), "the gate still refuses 127.0.0.31 after Fail2ban unbanned it");
    }

    [Fact]
    public async Task Fail2ban_CountsTheGatesRefusals_BansTheProber_GateRefusesItEverywhere()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "sshd: 127.0.0.41\n");
        var ssh = Loopback.FreePort();
        var cat = Loopback.FreePort();
        var authLog = dir.Write("auth.log", "");
        using var syslog = new SyslogFile(Path.Combine(dir.Path, "log"), authLog);
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {syslog.SocketPath}\n" +
            $"[service:ssh]\nlisten = 127.0.0.1:{ssh}\ndaemon = sshd\nexec = /bin/cat\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{cat}\nexec = /bin/cat\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        using var fail2ban = new Fail2banServer(dir.Path, [("sshd", authLog, 3600)], conf);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        await fail2ban.StartAsync(jails: 1);
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(cat, "127.0.0.41"));
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(ssh, "127.0.0.42"));

        // Probes the tables refuse, logged by the gate as tcpd logs them: Fail2ban counts three and bans.
        for (var i = 0; i < 3; i++)
            Assert.Equal("", await GateBanTests.TalkAsync(ssh, "127.0.0.41"));
        await fail2ban.WaitForActionAsync("'banned 127.0.0.41 for 1h (offence 1)'");
        Assert.Equal("fail2ban sshd", Ban(Bans(conf), "127.0.0.41").GetProperty("reason").GetString());
        Assert.Contains("refused connect from 127.0.0.41 (127.0.0.41)", File.ReadAllText(authLog), StringComparison.Ordinal);

        // The ban is the store's: the prober is refused by a service the tables grant it.
        Assert.True(await Eventually(async () => await GateBanTests.TalkAsync(cat, "127.0.0.41") == ""), "the gate never refused 127.0.0.41 on cat");
        await syslog.WaitForAsync("cat[", "refused connect from 127.0.0.41 (127.0.0.41) (banned: fail2ban sshd)");
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(ssh, "127.0.0.42"));
        Assert.DoesNotContain("127.0.0.42", fail2ban.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Ban_UnlessBanned_LeavesABanInForceAsItIs_BansAnAddressThatIsNot()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", $"[bans]\nstore = {dir.Path}/bans\n");
        Assert.Equal(0, CliRunner.Run(dir.Path, "ban", "192.0.2.7", "--for", "1h", "--reason", "first", "--config", conf).ExitCode);
        var before = Fixed(Ban(Bans(conf), "192.0.2.7"));
        var again = CliRunner.Run(dir.Path, "ban", "192.0.2.7", "--for", "1h", "--reason", "again", "--unless-banned", "--config", conf);
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("192.0.2.7 is banned already (", again.Stdout, StringComparison.Ordinal);
        Assert.Equal(before, Fixed(Ban(Bans(conf), "192.0.2.7")));
        // Without the flag the same ban is a second offence, escalated: what Fail2ban's restarts did.
        Assert.Contains("(offence 2)", CliRunner.Run(dir.Path, "ban", "192.0.2.7", "--for", "1h", "--config", conf).Stdout, StringComparison.Ordinal);
        var fresh = CliRunner.Run(dir.Path, "ban", "192.0.2.8", "--for", "1h", "--unless-banned", "--config", conf);
        Assert.Contains("banned 192.0.2.8 for 1h (offence 1)", fresh.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void ShippedActionUnban_NotBannedSucceeds_UnusableStoreFails()
    {
        // The action's unban passed every exit status 1 as "not banned (expired already)", and 1 is
        // also a store that cannot be used: Fail2ban recorded the unban as done, the ban stayed.
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", $"[bans]\nstore = {dir.Path}/bans\n");
        Assert.Equal(0, CliRunner.Run(dir.Path, "ban", "2001:db8::7", "--for", "1h", "--config", conf).ExitCode);
        Assert.Equal(0, ActionUnban(dir.Path, "2001:db8::7", conf).ExitCode);
        Assert.Empty(Bans(conf).EnumerateArray());
        Assert.Equal(0, ActionUnban(dir.Path, "2001:db8::7", conf).ExitCode);
        var broken = dir.Write("broken.conf", $"[bans]\nstore = {conf}\n");
        var r = ActionUnban(dir.Path, "192.0.2.7", broken);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("is a file, not a directory", r.Stderr, StringComparison.Ordinal);
    }

    /// <summary>The shipped action's actionunban, its tags filled in as Fail2ban fills them, run by sh as Fail2ban runs it.</summary>
    private static CliResult ActionUnban(string directory, string ip, string conf)
    {
        var line = File.ReadLines(Fail2banServer.ShippedAction).Single(l => l.StartsWith("actionunban = ", StringComparison.Ordinal));
        var command = line["actionunban = ".Length..]
            .Replace("<giftwrap>", $"dotnet {CliRunner.Dll}", StringComparison.Ordinal)
            .Replace("<ip>", ip, StringComparison.Ordinal)
            .Replace("<config>", conf, StringComparison.Ordinal);
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh", ["-c", command]) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        p.WaitForExit();
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>`giftwrap bans --json` for <paramref name="conf"/>.</summary>
    private static JsonElement Bans(string conf)
    {
        var r = CliRunner.Run(Path.GetDirectoryName(conf)!, "bans", "--json", "--config", conf);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return JsonDocument.Parse(r.Stdout).RootElement.Clone();
    }

    private static JsonElement Ban(JsonElement bans, string address) =>
        bans.EnumerateArray().Single(b => b.GetProperty("address").GetString() == address);

    /// <summary>What a ban is, without the time left (which changes as the test runs).</summary>
    private static string Fixed(JsonElement ban) =>
        string.Join(" ", ban.EnumerateObject().Where(p => p.Name != "seconds_left").Select(p => $"{p.Name}={p.Value.GetRawText()}"));

    /// <summary>True as soon as <paramref name="check"/> is (tried for at most 10 s): a running gate sees a store change within 100 ms.</summary>
    private static async Task<bool> Eventually(Func<Task<bool>> check)
    {
        for (var i = 0; i < 100; i++)
        {
            if (await check())
                return true;
            await Task.Delay(100);
        }
        return false;
    }

    /// <summary>
    /// A syslog daemon for one test: a Unix datagram socket (the gate's [log] syslog) whose messages
    /// are appended to a file as rsyslog writes auth.log ("Mmm dd hh:mm:ss HOST TAG[PID]: MSG").
    /// </summary>
    private sealed class SyslogFile : IDisposable
    {
        private readonly Socket _socket;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly string _file;

        public SyslogFile(string socketPath, string file)
        {
            SocketPath = socketPath;
            _file = file;
            _socket = SyslogListener.Bind(socketPath);
            _loop = Task.Run(ReadAsync);
        }

        public string SocketPath { get; }

        private async Task ReadAsync()
        {
            var buf = new byte[8192];
            try
            {
                while (true)
                {
                    var n = await _socket.ReceiveAsync(buf, SocketFlags.None, _stop.Token);
                    var d = Encoding.UTF8.GetString(buf, 0, n);
                    // "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG": the host name goes after the time stamp.
                    d = d[(d.IndexOf('>', StringComparison.Ordinal) + 1)..];
                    File.AppendAllText(_file, $"{d[..15]} testhost {d[16..]}\n");
                }
            }
            catch (OperationCanceledException)
            {
                // The test is over.
            }
        }

        /// <summary>Waits (at most 30 s) for a line of the file with every one of <paramref name="texts"/>.</summary>
        public async Task WaitForAsync(params string[] texts)
        {
            for (var i = 0; i < 300; i++)
            {
                if (File.ReadAllLines(_file).Any(l => texts.All(t => l.Contains(t, StringComparison.Ordinal))))
                    return;
                await Task.Delay(100);
            }
            Assert.Fail($"no syslog line with {string.Join(", ", texts)}:\n{File.ReadAllText(_file)}");
        }

        public void Dispose()
        {
            _stop.Cancel();
            _loop.Wait(TimeSpan.FromSeconds(10));
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
