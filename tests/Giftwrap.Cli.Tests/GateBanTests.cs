// Bans in a running gate: `giftwrap ban` from the shell reaches `giftwrap serve`
// without a restart, and the `ban DURATION` option on a booby-trap port bans the
// scanner from every service.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class GateBanTests
{
    internal static async Task<string> TalkAsync(int port, string from)
    {
        using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        c.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await c.ConnectAsync(IPAddress.Loopback, port);
        try
        {
            await c.SendAsync("hi\n"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // Refused connections may already be closed.
        }
        var sb = new StringBuilder();
        var buf = new byte[256];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int n;
            while ((n = await c.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
                sb.Append(Encoding.ASCII.GetString(buf, 0, n));
        }
        catch (SocketException)
        {
            // A reset ends the conversation.
        }
        return sb.ToString();
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void GateBans_JournalMadeImmutable_BanSaysNotBannedInsteadOfThrowing()
    {
        // chattr +i: even root gets EPERM, which .NET raises as UnauthorizedAccessException; it
        // escaped the gate's `ban` option and trap (only IOException was caught).
        var dir = Directory.CreateTempSubdirectory("giftwrap-gatebans-").FullName;
        var journal = Path.Combine(dir, "journal");
        var bans = Giftwrap.Cli.Commands.GateBans.Open(new Giftwrap.Bans.BanOptions { Store = dir }, "test", out var error)!;
        try
        {
            Assert.Null(error);
            Assert.StartsWith("banned", bans.Ban(IPAddress.Parse("192.0.2.1"), TimeSpan.FromHours(1), "first", "sshd"), StringComparison.Ordinal);
            using (var chattr = Process.Start("chattr", ["+i", journal]))
                chattr.WaitForExit();
            var said = bans.Ban(IPAddress.Parse("192.0.2.2"), TimeSpan.FromHours(1), "second", "sshd");
            Assert.StartsWith("not banned: ", said, StringComparison.Ordinal);
            Assert.NotNull(bans.Check(IPAddress.Parse("192.0.2.1"), "sshd"));
        }
        finally
        {
            using (var chattr = Process.Start("chattr", ["-i", journal]))
                chattr.WaitForExit();
            bans.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Serve_SeesShellBansAndBoobyTraps()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "telnetd: ALL: ban 1h: deny\nALL: ALL\n");
        var cat = Loopback.FreePort();
        var trap = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{cat}\nexec = /bin/cat\n" +
            $"[service:telnetd]\nlisten = 127.0.0.1:{trap}\nexec = /bin/cat\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\nprotect = 127.0.0.21\n");
        var psi = new ProcessStartInfo("dotnet", [CliRunner.Dll, "serve", "--config", conf]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var listening = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true)
                listening.TrySetResult();
        };
        p.BeginErrorReadLine();
        try
        {
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("hi\n", await TalkAsync(cat, "127.0.0.20"));

            // A ban from the shell: the running gate refuses the address from then on.
            var r = CliRunner.Run(dir.Path, "ban", "127.0.0.20", "--for", "1h", "--reason", "test", "--config", conf);
            Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
            var refused = false;
            for (var i = 0; i < 50 && !refused; i++)
            {
                refused = await TalkAsync(cat, "127.0.0.20") == "";
                if (!refused)
                    await Task.Delay(100);
            }
            Assert.True(refused, "the gate never saw the ban");
            Assert.Equal("hi\n", await TalkAsync(cat, "127.0.0.21"));

            // The booby trap: touching telnetd bans 127.0.0.22 from cat too.
            Assert.Equal("", await TalkAsync(trap, "127.0.0.22"));
            Assert.Equal("", await TalkAsync(cat, "127.0.0.22"));
            var bans = CliRunner.Run(dir.Path, "bans", "--config", conf);
            Assert.Contains("127.0.0.22", bans.Stdout);
            Assert.Contains("127.0.0.20", bans.Stdout);

            // Unban: served again.
            Assert.Equal(0, CliRunner.Run(dir.Path, "unban", "127.0.0.20", "--config", conf).ExitCode);
            var back = false;
            for (var i = 0; i < 50 && !back; i++)
            {
                back = await TalkAsync(cat, "127.0.0.20") == "hi\n";
                if (!back)
                    await Task.Delay(100);
            }
            Assert.True(back, "the gate never saw the unban");
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Serve_FullDisk_BanRefusedWithAClearLineAndTheGateServes()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "telnetd: ALL: ban 1h: deny\nALL: ALL\n");
        var cat = Loopback.FreePort();
        var trap = Loopback.FreePort();
        var disk = Directory.CreateDirectory(Path.Combine(dir.Path, "disk")).FullName;
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{cat}\nexec = /bin/cat\n" +
            $"[service:telnetd]\nlisten = 127.0.0.1:{trap}\nexec = /bin/cat\n" +
            $"[bans]\nstore = {disk}/bans\nprotect_loopback = no\n");
        // The store on a 256 KiB tmpfs, mounted in a mount namespace of the gate's own and filled up.
        var script = "mount -t tmpfs -o size=256k giftwrap-test \"$1\" && mkdir \"$1/bans\" && : > \"$1/bans/lock\" "
            + "&& { head -c 1048576 /dev/zero > \"$1/filler\" 2>/dev/null || true; } && shift && exec \"$@\"";
        var psi = new ProcessStartInfo("unshare", ["--mount", "--propagation", "private", "sh", "-c", script, "sh", disk, "dotnet", CliRunner.Dll, "serve", "--config", conf])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var listening = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lines.Enqueue(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal))
                listening.TrySetResult();
        };
        p.BeginErrorReadLine();
        try
        {
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal("", await TalkAsync(trap, $"127.0.0.{40 + i}"));
                Assert.Equal("hi\n", await TalkAsync(cat, $"127.0.0.{50 + i}"));
            }
            for (var i = 0; i < 50 && !lines.Any(l => l.Contains("ban 127.0.0.42 for 1h", StringComparison.Ordinal)); i++)
                await Task.Delay(100);
            var said = lines.Where(l => l.Contains("ban 127.0.0.4", StringComparison.Ordinal)).ToList();
            Assert.Equal(3, said.Count);
            Assert.All(said, l => Assert.Contains("not banned:", l, StringComparison.Ordinal));
            Assert.All(said, l => Assert.Contains("No space left on device", l, StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.Contains("   at ", StringComparison.Ordinal)); // no stack trace
            Assert.False(p.HasExited);
            Assert.Equal("hi\n", await TalkAsync(cat, "127.0.0.40")); // not banned: the ban could not be recorded
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
    }
}
