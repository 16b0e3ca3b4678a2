// The contrast with passed sockets: an address the gate bound itself, let go by a reload while its
// listener still judges a burst, cannot be bound again until that listener closes it. The reload that
// asks for it back is refused, and says that the gate's own old listener holds it, not another program.
using System.Net;

namespace Giftwrap.Cli.Tests;

public sealed partial class SocketActivationReloadTests
{
    [Fact]
    public async Task Serve_ReloadWantingBackAnAddressItsOldListenerStillHolds_IsRefusedNamingThatListener_AndTheNextReloadTakesIt()
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

        await JudgingHeldAsync(dir, new IPEndPoint(IPAddress.Loopback, port));
        File.WriteAllText(conf, Conf(other));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        File.WriteAllText(conf, Conf(port));
        Assert.False(await ReloadAsync(gate, 2), gate.Stderr);
        Assert.Contains(
            $"error: reload refused, keeping the running configuration: cannot listen on udp:127.0.0.1:{port}: " +
            "the address is still held by this gate's own listener of the configuration before, let go by a reload and not closed yet",
            gate.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("another gate or program", gate.Stderr, StringComparison.Ordinal);

        // Once the burst is judged (refused) and the old listener has closed the socket, the same reload is taken.
        await gate.WaitForAsync("once: refused connect from 127.0.0.3 (127.0.0.3)", Within);
        var until = DateTime.UtcNow + Within;
        for (var refusals = 1; ; refusals++)
        {
            Assert.Equal(0, Loopback.Signal(gate.Id, 1));
            var taken = gate.WaitForAsync("configuration reloaded", Within, 2);
            var refused = gate.WaitForAsync("reload refused", Within, refusals + 1);
            await Task.WhenAny(taken, refused).WaitAsync(Within);
            if (taken.IsCompletedSuccessfully)
                break;
            Assert.True(DateTime.UtcNow < until, gate.Stderr);
            await Task.Delay(100);
        }
        Assert.Contains($"configuration reloaded; listening on udp:127.0.0.1:{port}", gate.Stderr, StringComparison.Ordinal);
        using var client = SocketActivationTests.Datagram();
        client.SendTo("back"u8, new IPEndPoint(IPAddress.Loopback, port));
        Assert.Equal("once: back", SocketActivationTests.Receive(client));
    }
}
