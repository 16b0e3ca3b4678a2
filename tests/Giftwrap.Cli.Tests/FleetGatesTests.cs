// Three real gates (`giftwrap serve` processes, each with its own ban store) joined
// through a real redis-server: a ban or unban made on one reaches the others' decisions,
// and a ban made while Redis is down arrives once it is back.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Cli.Tests;

public sealed class FleetGatesTests
{
    private static Process StartRedis(int port, string dir)
    {
        Assert.True(File.Exists("/usr/bin/redis-server"), "redis-server (Debian package redis-server) is needed; scripts/test.sh installs it");
        var p = Process.Start(new ProcessStartInfo("/usr/bin/redis-server",
            ["--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir])
        { RedirectStandardOutput = true, RedirectStandardError = true })!;
        p.StandardOutput.ReadToEndAsync();
        p.StandardError.ReadToEndAsync();
        return p;
    }

    private static async Task<bool> ServedAsync(int port, string from)
    {
        try
        {
            using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            c.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
            await c.ConnectAsync(IPAddress.Loopback, port);
            await c.SendAsync("x"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            var buf = new byte[16];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            return await c.ReceiveAsync(buf, SocketFlags.None, cts.Token) > 0;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task Until(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 150; i++)
        {
            if (await condition())
                return;
            await Task.Delay(100);
        }
        Assert.Fail($"never happened: {what}");
    }

    [Fact]
    public async Task Fleet_BansAndUnbansReachEveryGate_EvenAfterRedisWasDown()
    {
        using var dir = new TempDir();
        var redisPort = Loopback.FreePort();
        var redis = StartRedis(redisPort, dir.Path);
        var gates = new List<(Process Process, int Port, string Conf)>();
        try
        {
            dir.Write("hosts.allow", "ALL: ALL\n");
            for (var g = 0; g < 3; g++)
            {
                var port = Loopback.FreePort();
                var conf = dir.Write($"gate{g}.conf",
                    $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
                    $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n" +
                    $"[bans]\nstore = {dir.Path}/store{g}\nprotect_loopback = no\nredis = 127.0.0.1:{redisPort},abortConnect=false,connectRetry=1,connectTimeout=1000\n");
                var listening = new TaskCompletionSource();
                var p = new Process { StartInfo = new ProcessStartInfo("dotnet", [CliRunner.Dll, "serve", "--config", conf]) { RedirectStandardError = true, RedirectStandardOutput = true } };
                p.ErrorDataReceived += (_, e) =>
                {
                    if (e.Data?.Contains("listening on", StringComparison.Ordinal) == true)
                        listening.TrySetResult();
                };
                p.Start();
                p.BeginErrorReadLine();
                gates.Add((p, port, conf));
                await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            }

            // A ban on gate 0 from the shell: gates 1 and 2 refuse the address too.
            Assert.Equal(0, CliRunner.Run(dir.Path, "ban", "127.0.0.30", "--for", "1h", "--reason", "fleet test", "--config", gates[0].Conf).ExitCode);
            await Until(async () => !await ServedAsync(gates[1].Port, "127.0.0.30"), "gate 1 refuses the ban made on gate 0");
            await Until(async () => !await ServedAsync(gates[2].Port, "127.0.0.30"), "gate 2 refuses the ban made on gate 0");
            Assert.True(await ServedAsync(gates[2].Port, "127.0.0.33"));

            // An unban on gate 1 frees the address everywhere.
            Assert.Equal(0, CliRunner.Run(dir.Path, "unban", "127.0.0.30", "--config", gates[1].Conf).ExitCode);
            await Until(() => ServedAsync(gates[0].Port, "127.0.0.30"), "gate 0 serves after the unban on gate 1");
            await Until(() => ServedAsync(gates[2].Port, "127.0.0.30"), "gate 2 serves after the unban on gate 1");

            // Redis goes away; a ban on gate 2 meanwhile; Redis comes back empty: the ban travels.
            redis.Kill(entireProcessTree: true);
            redis.WaitForExit();
            Assert.Equal(0, CliRunner.Run(dir.Path, "ban", "127.0.0.31", "--for", "1h", "--config", gates[2].Conf).ExitCode);
            await Until(async () => !await ServedAsync(gates[2].Port, "127.0.0.31"), "gate 2 enforces its own ban with Redis down");
            redis = StartRedis(redisPort, dir.Path);
            await Until(async () => !await ServedAsync(gates[0].Port, "127.0.0.31"), "gate 0 gets the ban made while Redis was down");
            await Until(async () => !await ServedAsync(gates[1].Port, "127.0.0.31"), "gate 1 gets the ban made while Redis was down");
            // Nothing resurrected: the address unbanned earlier is still served everywhere.
            Assert.True(await ServedAsync(gates[1].Port, "127.0.0.30"));
        }
        finally
        {
            foreach (var (p, _, _) in gates)
            {
                if (!p.HasExited)
                    p.Kill(entireProcessTree: true);
                p.Dispose();
            }
            if (!redis.HasExited)
                redis.Kill(entireProcessTree: true);
            redis.Dispose();
        }
    }

    [Fact]
    public async Task Serve_RedisAcceptsButNeverAnswers_ListensFirstAndSaysSo()
    {
        using var dir = new TempDir();
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var silentPort = ((IPEndPoint)silent.LocalEndpoint).Port;
        var held = new System.Collections.Concurrent.ConcurrentBag<Socket>();
        _ = Task.Run(async () =>
        {
            while (true)
                held.Add(await silent.AcceptSocketAsync()); // accepted, never answered
        });
        dir.Write("hosts.allow", "ALL: ALL\n");
        var port = Loopback.FreePort();
        var conf = dir.Write("gate.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n" +
            $"[bans]\nstore = {dir.Path}/store\nprotect_loopback = no\nredis = 127.0.0.1:{silentPort}\n");
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var listening = new TaskCompletionSource();
        using var p = new Process { StartInfo = new ProcessStartInfo("dotnet", [CliRunner.Dll, "serve", "--config", conf]) { RedirectStandardError = true, RedirectStandardOutput = true } };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lines.Enqueue(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal))
                listening.TrySetResult();
        };
        p.Start();
        p.BeginErrorReadLine();
        try
        {
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(await ServedAsync(port, "127.0.0.40"));
            await Until(() => Task.FromResult(lines.Any(l => l.Contains("does not answer", StringComparison.Ordinal))), "the fleet says Redis does not answer");
            var all = lines.ToList();
            // The listeners opened before the fleet gave up on Redis: nothing waited for it.
            Assert.True(all.FindIndex(l => l.Contains("listening on", StringComparison.Ordinal)) < all.FindIndex(l => l.Contains("does not answer", StringComparison.Ordinal)), string.Join("\n", all));
            Assert.Contains(all, l => l.Contains($"fleet: Redis at 127.0.0.1:{silentPort} does not answer", StringComparison.Ordinal));
            Assert.NotEmpty(held);
            Assert.True(await ServedAsync(port, "127.0.0.41"));
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
            silent.Stop();
            foreach (var s in held)
                s.Dispose();
        }
    }
}
