// Addresses the gate bound itself, let go by a reload while their listener is still at work (a UDP
// burst being judged, TCP relay loops held slow), then wanted back by the very next reload: the gate
// takes back the socket that still holds the address, as it takes back one systemd passed, instead
// of binding a second one (which would fail, EADDRINUSE). The reload is taken, the new listener
// starts once the old one is done, and /proc shows one socket on the address, the same as before.
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed partial class SocketActivationReloadTests
{
    [Fact]
    public async Task Serve_ReloadWantingBackAUdpAddressItsOldListenerStillHolds_TakesThatSocketBack()
    {
        using var dir = new TempDir();
        var port = FreeUdpPort();
        var other = FreeUdpPort();
        var tables = SocketActivationTests.Tables(dir);
        string Conf(int p) => tables + SocketActivationTests.OnceService(dir, $"udp:127.0.0.1:{p}");
        var conf = dir.Write("giftwrap.conf", Conf(port));
        // No socket passed: the gate binds the address itself.
        using var gate = Activation.Serve(conf);
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{port}", Within);
        var socket = Assert.Single(BoundInodes(port, udp: true));

        await JudgingHeldAsync(dir, new IPEndPoint(IPAddress.Loopback, port));
        File.WriteAllText(conf, Conf(other));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        File.WriteAllText(conf, Conf(port));
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);
        Assert.Contains($"configuration reloaded; listening on udp:127.0.0.1:{port}", gate.Stderr, StringComparison.Ordinal);

        // The burst the old listener was judging is refused (and read away) before the new one watches.
        await gate.WaitForAsync("once: refused connect from 127.0.0.3 (127.0.0.3)", Within);
        using var client = SocketActivationTests.Datagram();
        client.SendTo("back"u8, new IPEndPoint(IPAddress.Loopback, port));
        Assert.Equal("once: back", SocketActivationTests.Receive(client));
        // The very socket of the start, in the gate, and no second one on the address.
        Assert.Equal([socket], BoundInodes(port, udp: true));
        Assert.Contains(socket, Activation.Sockets(gate.Id).Values);
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, gate.Stderr.Split("refused connect from 127.0.0.3").Length);
    }

    [Fact]
    public async Task Serve_ReloadWantingBackATcpAddressWhileItsOldListenerStillStops_TakesThatSocketBack()
    {
        using var dir = new TempDir();
        var port = Loopback.FreePort();
        var other = Loopback.FreePort();
        var tables = SocketActivationTests.Tables(dir);
        string Conf(int p) => tables + $"[service:cat]\nlisten = 127.0.0.1:{p}\nexec = /bin/cat\n";
        var conf = dir.Write("giftwrap.conf", Conf(port));
        using var gate = Activation.Serve(conf);
        await gate.WaitForAsync($"listening on 127.0.0.1:{port}", Within);
        var socket = Assert.Single(BoundInodes(port, udp: false));
        await EchoedAsync(port, "before\n");

        bool back;
        // Held loops make the old listener's stop last seconds, past the next reload.
        using (await SlowLoops.HoldAsync(gate.Id))
        {
            File.WriteAllText(conf, Conf(other));
            Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
            File.WriteAllText(conf, Conf(port));
            back = await ReloadAsync(gate, 2);
        }
        Assert.True(back, gate.Stderr);
        Assert.Contains($"configuration reloaded; listening on 127.0.0.1:{port}", gate.Stderr, StringComparison.Ordinal);
        await EchoedAsync(port, "back\n");
        Assert.Equal([socket], BoundInodes(port, udp: false));
        Assert.Contains(socket, Activation.Sockets(gate.Id).Values);
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
        // The address let go for good is closed once its listener is done: a plain bind has it.
        File.WriteAllText(conf, Conf(other));
        Assert.True(await ReloadAsync(gate, 3), gate.Stderr);
        await FreedAsync(port);
    }

    private static async Task EchoedAsync(int port, string text)
    {
        using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await c.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        await c.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        Assert.Equal(text, SocketActivationTests.Receive(c));
    }

    /// <summary>Waits (bounded) until a socket of the test's own can listen on 127.0.0.1:<paramref name="port"/>.</summary>
    private static async Task FreedAsync(int port)
    {
        var until = DateTime.UtcNow + Within;
        while (true)
        {
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                s.Bind(new IPEndPoint(IPAddress.Loopback, port));
                s.Listen(1);
                return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && DateTime.UtcNow < until)
            {
                // The old listener is still stopping.
            }
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// The socket inodes ("socket:[N]", as /proc names a descriptor's) bound to 127.0.0.1:<paramref name="port"/>:
    /// listening ones for TCP, all for UDP, from /proc/net/tcp or /proc/net/udp.
    /// </summary>
    private static List<string> BoundInodes(int port, bool udp)
    {
        var local = $"0100007F:{port:X4}";
        return [.. File.ReadAllLines(udp ? "/proc/net/udp" : "/proc/net/tcp").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            // Columns: sl, local_address, rem_address, st (0A: LISTEN), ..., inode (the tenth).
            .Where(f => f[1] == local && (udp || f[3] == "0A"))
            .Select(f => $"socket:[{long.Parse(f[9], CultureInfo.InvariantCulture)}]")];
    }
}
