// `giftwrap serve` as a real process: configuration errors named with file and line,
// listening, SIGHUP reload (a broken file keeps the old configuration), and SIGTERM
// draining an open connection.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class ServeCommandTests
{
    [Fact]
    public void Serve_BrokenConfiguration_NamesFileAndLineAndStops()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", "[service:x]\nlisten = 127.0.0.1:notaport\nforward = 127.0.0.1:1\nbogus line\n[limits]\nmax_per_source = -3\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf);
        Assert.Equal(78, r.ExitCode);
        // Every error at once, each with file:line:column (the column of the value, or of the line).
        Assert.Contains($"{conf}:2:10: listen = 127.0.0.1:notaport: \"127.0.0.1:notaport\": port \"notaport\" is not a number", r.Stderr);
        Assert.Contains($"{conf}:4:1: \"bogus line\" is not key = value", r.Stderr);
        Assert.Contains($"{conf}:6:18: max_per_source = -3: must be a whole number from 1 to 1000000", r.Stderr);
    }

    [Fact]
    public async Task Serve_ReloadsOnHup_AndDrainsOnTerm()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        var port = Loopback.FreePort();
        var port2 = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        var psi = new ProcessStartInfo("dotnet", [CliRunner.Dll, "serve", "--config", conf, "--drain-seconds", "20"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = new StringBuilder();
        var listening = new TaskCompletionSource();
        var reloaded = new TaskCompletionSource();
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (stderr)
                stderr.AppendLine(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal))
                listening.TrySetResult();
            if (e.Data.Contains("configuration reloaded", StringComparison.Ordinal))
                reloaded.TrySetResult();
        };
        p.BeginErrorReadLine();
        try
        {
            await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
            using var open = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await open.ConnectAsync(IPAddress.Loopback, port);
            await open.SendAsync("one\n"u8.ToArray(), SocketFlags.None);

            // A broken file on SIGHUP keeps the running configuration.
            var good = File.ReadAllText(conf);
            File.WriteAllText(conf, good + "[service:broken]\nlisten = nowhere\n");
            Assert.Equal(0, Loopback.Signal(p.Id, 1));
            await Task.Delay(1000);
            File.WriteAllText(conf, good + $"[service:cat2]\nlisten = 127.0.0.1:{port2}\nexec = /bin/cat\n");
            Assert.Equal(0, Loopback.Signal(p.Id, 1));
            await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(30));
            using (var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                await second.ConnectAsync(IPAddress.Loopback, port2);
                await second.SendAsync("two\n"u8.ToArray(), SocketFlags.None);
                second.Shutdown(SocketShutdown.Send);
                Assert.Equal("two\n", await ReadAllAsync(second));
            }

            // SIGTERM: no new connections, the open one still works until it ends.
            Assert.Equal(0, Loopback.Signal(p.Id, 15));
            await Task.Delay(500);
            await open.SendAsync("still here\n"u8.ToArray(), SocketFlags.None);
            open.Shutdown(SocketShutdown.Send);
            Assert.Equal("one\nstill here\n", await ReadAllAsync(open));
            Assert.True(p.WaitForExit(30_000), "serve did not exit after SIGTERM");
            Assert.Equal(0, p.ExitCode);
            lock (stderr)
                Assert.Contains("reload refused, keeping the running configuration", stderr.ToString());
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task Serve_Term_DrainsForItsDrainSeconds_NotTwo()
    {
        // System.CommandLine ended the process two seconds after SIGTERM (status 143), cutting every
        // drain longer than that: the default 30 s, and this 20 s.
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        using var gate = new ServeProcess(conf, drainSeconds: 20);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(30));
        using var open = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await open.ConnectAsync(IPAddress.Loopback, port);
        await open.SendAsync("one\n"u8.ToArray(), SocketFlags.None);
        await gate.WaitForAsync("connect from 127.0.0.1", TimeSpan.FromSeconds(30));

        Assert.Equal(0, Loopback.Signal(gate.Id, 15));
        await gate.WaitForAsync("stopping", TimeSpan.FromSeconds(30));
        Assert.Null(gate.ExitCode(TimeSpan.FromSeconds(4)));
        await open.SendAsync("still here\n"u8.ToArray(), SocketFlags.None);
        open.Shutdown(SocketShutdown.Send);
        Assert.Equal("one\nstill here\n", await ReadAllAsync(open));
        Assert.Equal(0, gate.ExitCode(TimeSpan.FromSeconds(30)));
    }

    private static async Task<string> ReadAllAsync(Socket s)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var sb = new StringBuilder();
        var buf = new byte[1024];
        int n;
        while ((n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
            sb.Append(Encoding.ASCII.GetString(buf, 0, n));
        return sb.ToString();
    }
}
