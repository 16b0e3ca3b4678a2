// systemd integration of `giftwrap serve`: sockets passed by socket activation (LISTEN_FDS,
// through systemd-socket-activate, or the test's own TCP and UDP sockets through Activation)
// and the READY=1 notification on $NOTIFY_SOCKET.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SocketActivationTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

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

    /// <summary>A UDP socket bound to 127.0.0.1 on a port of the kernel's choosing, as ListenDatagram= makes one.</summary>
    internal static Socket Datagram(string from = "127.0.0.1")
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        return s;
    }

    /// <summary>A listening TCP socket on 127.0.0.1, as ListenStream= makes one.</summary>
    internal static Socket Stream()
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        s.Listen(16);
        return s;
    }

    internal static int Port(Socket s) => ((IPEndPoint)s.LocalEndPoint!).Port;

    internal static string Receive(Socket s)
    {
        var buffer = new byte[100];
        s.ReceiveTimeout = 60_000;
        return Encoding.ASCII.GetString(buffer, 0, s.Receive(buffer));
    }

    /// <summary>The service "once" (the program <see cref="Tables"/> writes) at <paramref name="listen"/>, for giftwrap.conf.</summary>
    internal static string OnceService(TempDir dir, string listen) => $"[service:once]\nlisten = {listen}\nexec = {dir.Path}/once.py\n";

    /// <summary>
    /// A UDP "wait" program that answers one datagram and exits, and writes to the file inherited
    /// the sockets it holds beyond its stdio (none expected); hosts.allow lets 127.0.0.1 in only.
    /// </summary>
    internal static string Tables(TempDir dir)
    {
        var once = dir.Write("once.py", $$"""
            #!/usr/bin/python3
            import os, socket
            s = socket.socket(fileno=0)
            data, peer = s.recvfrom(100)
            held = []
            for fd in os.listdir("/proc/self/fd"):
                try:
                    if int(fd) > 2 and os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                        held.append(fd)
                except OSError:
                    pass
            with open("{{dir.Path}}/inherited", "a") as f:
                f.write(" ".join(held) + "\n")
            s.sendto(b"once: " + data, peer)
            """);
        File.SetUnixFileMode(once, (UnixFileMode)0b111_101_101);
        dir.Write("hosts.allow", "once: 127.0.0.1\ncat: 127.0.0.1\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        return $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n";
    }

    [Fact]
    public async Task Serve_ActivatedDatagramSocket_ServesTheUdpService_GrantedRunsTheProgram_RefusedIsSunk()
    {
        using var dir = new TempDir();
        // The test keeps its copy open and bound, as systemd does: serve could not bind this port
        // itself (no SO_REUSEADDR on either side), so it serves through the passed socket or not at all.
        using var passed = Datagram();
        var port = Port(passed);
        var conf = dir.Write("giftwrap.conf", Tables(dir) + OnceService(dir, $"udp:127.0.0.1:{port}"));
        using var gate = Activation.Serve(conf, (passed, "once"));
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{port}", Within);
        Assert.Equal(Activation.Inode(passed), Activation.Sockets(gate.Id)[3]);
        var service = new IPEndPoint(IPAddress.Loopback, port);

        using var refused = Datagram("127.0.0.3");
        refused.SendTo("no"u8, service);
        await gate.WaitForAsync("once: refused connect from 127.0.0.3 (127.0.0.3)", Within);
        using var allowed = Datagram();
        allowed.SendTo("a"u8, service);
        Assert.Equal("once: a", Receive(allowed));
        await gate.WaitForAsync("once: connect from 127.0.0.1 (127.0.0.1)", Within);
        // The refused datagram was read away by the gate, not answered by the program.
        Assert.Equal(0, refused.Available);
        // The program got the socket on its stdio only: descriptor 3 is closed on exec, as sd_listen_fds leaves it.
        Assert.Equal([""], File.ReadAllLines(Path.Combine(dir.Path, "inherited")));
        Assert.DoesNotContain("activated socket", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_SystemdSocketActivateDatagram_TheDatagramThatStartedTheGateIsJudgedAndAnswered()
    {
        using var dir = new TempDir();
        int port;
        using (var free = Datagram())
            port = Port(free);
        var conf = dir.Write("giftwrap.conf", Tables(dir) + OnceService(dir, $"udp:127.0.0.1:{port}"));
        var psi = new ProcessStartInfo("/usr/bin/systemd-socket-activate",
            ["-d", "-l", $"127.0.0.1:{port}", "--fdname=once", "dotnet", CliRunner.Dll, "serve", "--config", conf])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = new StringBuilder();
        try
        {
            // Sent once systemd-socket-activate has bound the port; that datagram makes it start giftwrap.
            using var cts = new CancellationTokenSource(Within);
            string? line;
            do
            {
                line = await p.StandardError.ReadLineAsync(cts.Token);
                stderr.AppendLine(line);
            }
            while (line is not null && !line.Contains("Listening on", StringComparison.Ordinal));
            var rest = p.StandardError.ReadToEndAsync(CancellationToken.None);
            using var client = Datagram();
            client.SendTo("first"u8, new IPEndPoint(IPAddress.Loopback, port));
            Assert.Equal("once: first", Receive(client));
            p.Kill(entireProcessTree: true);
            stderr.Append(await rest);
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        Assert.Contains("once: connect from 127.0.0.1 (127.0.0.1)", stderr.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("cannot listen", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ActivatedStreamAndDatagramSockets_ServeBothServices_ByAddressAndByName_AndAReloadKeepsThem()
    {
        using var dir = new TempDir();
        using var tcp = Stream();
        using var udp = Datagram();
        // Bound to no address the configuration lists: used for the service its name names.
        using var named = Datagram();
        using var stray = Datagram();
        var conf = dir.Write("giftwrap.conf", Tables(dir) +
            $"[service:cat]\nlisten = 127.0.0.1:{Port(tcp)}\nexec = /bin/cat\n" +
            OnceService(dir, $"udp:127.0.0.1:{Port(udp)}"));
        using var gate = Activation.Serve(conf, (tcp, "cat"), (udp, "udp-once"), (named, "once"), (stray, "nobody"));
        var listening = $"listening on 127.0.0.1:{Port(tcp)}";
        await gate.WaitForAsync(listening, Within);
        await gate.WaitForAsync($"warning: activated socket descriptor 6 (nobody) bound to 127.0.0.1:{Port(stray)} matches no service; closed", Within);
        Assert.Contains($"udp:127.0.0.1:{Port(udp)}", gate.Stderr, StringComparison.Ordinal);
        Assert.Contains($"udp:127.0.0.1:{Port(named)}", gate.Stderr, StringComparison.Ordinal);
        var held = Activation.Sockets(gate.Id);
        Assert.Equal([Activation.Inode(tcp), Activation.Inode(udp), Activation.Inode(named)], [held[3], held[4], held[5]]);
        Assert.DoesNotContain(Activation.Inode(stray), held.Values);

        await ServedAsync(tcp, udp, named, "1");
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync($"configuration reloaded; listening on 127.0.0.1:{Port(tcp)}", Within);
        await ServedAsync(tcp, udp, named, "2");
        // The same sockets, never closed and bound again (the port is the test's: no bind could succeed).
        held = Activation.Sockets(gate.Id);
        Assert.Equal([Activation.Inode(tcp), Activation.Inode(udp), Activation.Inode(named)], [held[3], held[4], held[5]]);
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("kept open", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ReloadThatNoLongerListsPassedAddresses_KeepsTheSocketsOpen_AndALaterReloadTakesThemAgain()
    {
        using var dir = new TempDir();
        using var tcp = Stream();
        using var udp = Datagram();
        var otherTcp = Loopback.FreePort();
        int otherUdp;
        using (var free = Datagram())
            otherUdp = Port(free);
        var tables = Tables(dir);
        string Conf(int tcpPort, int udpPort) => tables +
            $"[service:cat]\nlisten = 127.0.0.1:{tcpPort}\nexec = /bin/cat\n" +
            OnceService(dir, $"udp:127.0.0.1:{udpPort}");
        var conf = dir.Write("giftwrap.conf", Conf(Port(tcp), Port(udp)));
        using var gate = Activation.Serve(conf, (tcp, "cat"), (udp, "once"));
        await gate.WaitForAsync($"listening on 127.0.0.1:{Port(tcp)}, udp:127.0.0.1:{Port(udp)}", Within);

        // Both services move to addresses the gate binds itself: the passed sockets stay open, unused.
        File.WriteAllText(conf, Conf(otherTcp, otherUdp));
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync($"activated socket 127.0.0.1:{Port(tcp)} is listed no more: kept open, unused, for a later reload", Within);
        await gate.WaitForAsync($"activated socket udp:127.0.0.1:{Port(udp)} is listed no more: kept open, unused, for a later reload", Within);
        var held = Activation.Sockets(gate.Id).Values;
        Assert.Contains(Activation.Inode(tcp), held);
        Assert.Contains(Activation.Inode(udp), held);

        // Back: the same sockets are taken again (a bind of the gate's own would fail: the test holds the ports).
        File.WriteAllText(conf, Conf(Port(tcp), Port(udp)));
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync($"configuration reloaded; listening on 127.0.0.1:{Port(tcp)}, udp:127.0.0.1:{Port(udp)}", Within);
        using var client = Datagram();
        client.SendTo("back"u8, udp.LocalEndPoint!);
        Assert.Equal("once: back", Receive(client));
        using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await c.ConnectAsync((IPEndPoint)tcp.LocalEndPoint!);
        await c.SendAsync("back\n"u8.ToArray(), SocketFlags.None);
        Assert.Equal("back\n", Receive(c));
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
    }

    /// <summary>The TCP service echoes through cat; both UDP sockets start the program, which answers.</summary>
    private static async Task ServedAsync(Socket tcp, Socket udp, Socket named, string round)
    {
        using (var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await c.ConnectAsync((IPEndPoint)tcp.LocalEndPoint!);
            await c.SendAsync(Encoding.ASCII.GetBytes($"tcp {round}\n"), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
            var sb = new StringBuilder();
            var buf = new byte[256];
            using var cts = new CancellationTokenSource(Within);
            int n;
            while ((n = await c.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
                sb.Append(Encoding.ASCII.GetString(buf, 0, n));
            Assert.Equal($"tcp {round}\n", sb.ToString());
        }
        using var client = Datagram();
        client.SendTo(Encoding.ASCII.GetBytes($"udp {round}"), udp.LocalEndPoint!);
        Assert.Equal($"once: udp {round}", Receive(client));
        client.SendTo(Encoding.ASCII.GetBytes($"named {round}"), named.LocalEndPoint!);
        Assert.Equal($"once: named {round}", Receive(client));
    }

    [Fact]
    public async Task Serve_StreamSocketPassedForAUdpAddress_FailsToStart_NamingTheDescriptorAndTheService()
    {
        using var dir = new TempDir();
        using var tcp = Stream();
        var port = Port(tcp);
        var conf = dir.Write("giftwrap.conf", Tables(dir) + OnceService(dir, $"udp:127.0.0.1:{port}"));
        using var gate = Activation.Serve(conf, (tcp, "once"));
        Assert.Equal(1, gate.ExitCode(Within));
        await gate.WaitForAsync("systemd passed", Within);
        Assert.Contains(
            $"{conf}:7:10: cannot listen on udp:127.0.0.1:{port} (service once): systemd passed descriptor 3 (once) bound to 127.0.0.1:{port}, " +
            "a TCP (stream) socket, for this UDP address; a UDP service needs ListenDatagram= in the .socket unit", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_DatagramSocketNamedForATcpService_FailsToStart_NamingTheDescriptorAndTheService()
    {
        using var dir = new TempDir();
        using var udp = Datagram();
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf", Tables(dir) + $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        using var gate = Activation.Serve(conf, (udp, "cat"));
        Assert.Equal(1, gate.ExitCode(Within));
        await gate.WaitForAsync("systemd passed", Within);
        Assert.Contains(
            $"systemd passed descriptor 3 (cat) bound to 127.0.0.1:{Port(udp)}, a UDP (datagram) socket, for [service:cat] (its FileDescriptorName=); " +
            "a TCP service needs ListenStream= in the .socket unit", gate.Stderr, StringComparison.Ordinal);
    }
}
