// systemd integration of `giftwrap serve`: listening sockets passed by socket
// activation (LISTEN_FDS, here through systemd-socket-activate) and the READY=1
// notification on $NOTIFY_SOCKET.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class SocketActivationTests
{
    [Fact]
    public async Task Serve_ActivatedSocket_IsUsed_AndReadinessIsNotified()
    {
        Assert.True(File.Exists("/usr/bin/systemd-socket-activate"), "systemd-socket-activate (Debian package systemd) is needed");
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        var notifyPath = Path.Combine(dir.Path, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        var psi = new ProcessStartInfo("/usr/bin/systemd-socket-activate",
            ["-l", $"127.0.0.1:{port}", "-E", $"NOTIFY_SOCKET={notifyPath}", "dotnet", CliRunner.Dll, "serve", "--config", conf])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            // The first connection makes systemd-socket-activate start giftwrap with the socket on fd 3.
            // systemd-socket-activate binds the port shortly after it starts: try until it does.
            var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    await c.ConnectAsync(IPAddress.Loopback, port);
                    break;
                }
                catch (SocketException) when (attempt < 200)
                {
                    c.Dispose();
                    c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await Task.Delay(50);
                }
            }
            using var connected = c;
            var buf = new byte[256];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var n = await notify.ReceiveAsync(buf, SocketFlags.None, cts.Token);
            Assert.Equal("READY=1", Encoding.UTF8.GetString(buf, 0, n));
            await c.SendAsync("activated\n"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            var sb = new StringBuilder();
            while ((n = await c.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
                sb.Append(Encoding.ASCII.GetString(buf, 0, n));
            Assert.Equal("activated\n", sb.ToString());
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.DoesNotContain("cannot listen", await stderr, StringComparison.Ordinal);
    }
}
