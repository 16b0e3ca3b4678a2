// Fail2ban's stock sshd filter (Debian's fail2ban, /etc/fail2ban/filter.d/sshd.conf, read only) run by
// the real fail2ban-regex over the refusal lines that a real `giftwrap serve` and `giftwrap-tcpd` send
// to syslog, written to a file as a syslog daemon writes them: every line must match, and the
// address fail2ban bans must be the client's. Debian's tcpd is run alongside as the reference.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class Fail2banSshdFilterTests
{
    private const string Filter = "/etc/fail2ban/filter.d/sshd.conf";

    [Fact]
    public async Task Fail2ban_SshdFilter_MatchesGiftwrapTcpdRefusals_WithTheClientAddress()
    {
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/share/dotnet/dotnet";
        string[] giftwrap = [dotnet, Path.Combine(AppContext.BaseDirectory, "giftwrap-tcpd.dll")];
        // By address, and by a name from the namespace's /etc/hosts (alpha.test is 127.0.0.2).
        var byAddress = new InetdCase("address", "", "sshd: ALL\n", "127.0.0.4") { Daemon = "DIR/sshd" };
        var byName = new InetdCase("name", "", "sshd: alpha.test\n", "127.0.0.2") { Daemon = "DIR/sshd" };
        var runs = await Task.WhenAll(
            InetdOnce.RunAsync(byAddress, giftwrap, daemonAsArgv0: false),
            InetdOnce.RunAsync(byName, giftwrap, daemonAsArgv0: false),
            InetdOnce.RunAsync(byName, ["/usr/sbin/tcpd"], daemonAsArgv0: true));
        Assert.Contains("refused connect from alpha.test (127.0.0.2)", runs[1].Datagrams.Single(), StringComparison.Ordinal);
        Assert.Equal(["127.0.0.4"], Banned(runs[0].Datagrams));
        Assert.Equal(["127.0.0.2"], Banned(runs[1].Datagrams));
        Assert.Equal(["127.0.0.2"], Banned(runs[2].Datagrams));
    }

    [Fact]
    public async Task Fail2ban_SshdFilter_MatchesGiftwrapServeRefusals_WithTheClientAddress()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "sshd: ALL\n");
        var socketPath = Path.Combine(dir.Path, "log");
        using var log = SyslogListener.Bind(socketPath);
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {socketPath}\n" +
            $"[service:ssh]\nlisten = 127.0.0.1:{port}\ndaemon = sshd\nforward = 127.0.0.1:9\n");
        var psi = new ProcessStartInfo("dotnet", [CliRunner.Dll, "serve", "--config", conf]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var serve = Process.Start(psi)!;
        var listening = new TaskCompletionSource();
        serve.ErrorDataReceived += (_, e) =>
        {
            if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true)
                listening.TrySetResult();
        };
        serve.BeginErrorReadLine();
        _ = serve.StandardOutput.ReadToEndAsync();
        try
        {
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            foreach (var client in new[] { "127.0.0.6", "127.0.0.7" })
                await RefusedAsync(client, port);
            var datagrams = new List<string>();
            var buf = new byte[8192];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while (datagrams.Count(d => d.Contains("refused connect", StringComparison.Ordinal)) < 2)
            {
                var n = await log.ReceiveAsync(buf, SocketFlags.None, cts.Token);
                datagrams.Add(Encoding.UTF8.GetString(buf, 0, n));
            }
            Assert.Equal(["127.0.0.6", "127.0.0.7"], Banned(datagrams));
        }
        finally
        {
            serve.Kill(entireProcessTree: true);
            serve.WaitForExit(30_000);
        }
    }

    [Fact]
    public async Task Fail2ban_SshdFilter_MatchesTheGatesOwnRefusals_BanAndPerSourceLimit_WithTheClientAddress()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        dir.Write("hosts.deny", "");
        var socketPath = Path.Combine(dir.Path, "log");
        using var log = SyslogListener.Bind(socketPath);
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {socketPath}\n" +
            $"[service:ssh]\nlisten = 127.0.0.1:{port}\ndaemon = sshd\nexec = /bin/cat\n[limits]\nmax_per_source = 1\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));

        // 127.0.0.51 holds its one connection; its second is refused by the per-source limit.
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        held.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.51"), 0));
        await held.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await held.SendAsync("x"u8.ToArray(), SocketFlags.None);
        Assert.Equal(1, await held.ReceiveAsync(new byte[1], SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30)));
        await RefusedAsync("127.0.0.51", port);
        await gate.WaitForAsync("more than 1 connections from one address", TimeSpan.FromSeconds(10));

        // 127.0.0.52 banned from the shell: refused by the ban before the tables.
        var ban = CliRunner.Run(dir.Path, "ban", "127.0.0.52", "--for", "1h", "--reason", "probing", "--config", conf);
        Assert.True(ban.ExitCode == 0, ban.Stdout + ban.Stderr);
        // The gate learns of the ban from the store's file: until it has, a connection is served by cat
        // and stays open, so each try gives up after a short while and the next one comes.
        for (var i = 0; i < 100 && !gate.Stderr.Contains("(banned: probing)", StringComparison.Ordinal); i++)
        {
            await RefusedAsync("127.0.0.52", port, TimeSpan.FromSeconds(2), mustClose: false);
            await Task.Delay(100);
        }
        await gate.WaitForAsync("refused connect from 127.0.0.52 (127.0.0.52) (banned: probing)", TimeSpan.FromSeconds(10));

        var refusals = new List<string>();
        var buf = new byte[8192];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!refusals.Any(d => d.Contains("(banned: probing)", StringComparison.Ordinal)))
        {
            var n = await log.ReceiveAsync(buf, SocketFlags.None, cts.Token);
            var d = Encoding.UTF8.GetString(buf, 0, n);
            if (d.Contains("refused connect", StringComparison.Ordinal))
                refusals.Add(d);
        }
        Assert.Equal(["127.0.0.51", "127.0.0.52"], Banned(refusals));
    }

    private static async Task RefusedAsync(string from, int port, TimeSpan? wait = null, bool mustClose = true)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        using var cts = new CancellationTokenSource(wait ?? TimeSpan.FromSeconds(30));
        try
        {
            while (await s.ReceiveAsync(new byte[256], SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // A reset is a close too.
        }
        catch (OperationCanceledException) when (!mustClose)
        {
            // Still open: served, not refused (yet).
        }
    }

    /// <summary>
    /// The addresses fail2ban-regex finds with Debian's sshd filter in the lines of <paramref name="datagrams"/>,
    /// written as a syslog daemon writes them ("Mmm dd hh:mm:ss HOST TAG[PID]: MSG"). Every line must match.
    /// </summary>
    private static List<string> Banned(IEnumerable<string> datagrams)
    {
        Assert.True(File.Exists(Filter), $"{Filter} is missing: apt-get install fail2ban (scripts/test.sh does)");
        using var dir = new TempDir();
        var lines = datagrams.Where(d => d.Contains("connect from", StringComparison.Ordinal))
            .Select(d => d[(d.IndexOf('>', StringComparison.Ordinal) + 1)..])
            .Select(d => $"{d[..15]} testhost {d[16..]}\n").ToList();
        Assert.NotEmpty(lines);
        var file = dir.Write("auth.log", string.Concat(lines));
        var psi = new ProcessStartInfo("fail2ban-regex", ["-o", "ip", file, Filter]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("fail2ban-regex did not finish in 120 s");
        }
        Assert.True(p.ExitCode == 0, $"fail2ban-regex exited {p.ExitCode}: {stderr.Result}");
        var found = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        Assert.True(found.Count == lines.Count, $"the sshd filter matched {found.Count} of these lines:\n{string.Concat(lines)}");
        return found;
    }
}
