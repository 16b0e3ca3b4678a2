// Many reloads in a row, each dropping or bringing back a passed TCP and a passed UDP socket,
// while clients keep using both: every connection and burst is served in the end, the gate
// holds no more descriptors afterwards than before, still answers, and stops with status 0.
using System.Net.Sockets;

namespace Giftwrap.Cli.Tests;

public sealed partial class SocketActivationReloadTests
{
    /// <summary>
    /// The descriptors the process <paramref name="pid"/> holds, but for the libraries the runtime
    /// keeps open once it has loaded them (a code path taken first adds them for good).
    /// </summary>
    private static int Descriptors(int pid) => new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos()
        .Count(f => f.LinkTarget is not { } target || !(target.EndsWith(".dll", StringComparison.Ordinal) || target.EndsWith(".so", StringComparison.Ordinal)));

    /// <summary>Echo connections to <paramref name="tcp"/> one after the other until <paramref name="until"/>, and at least three; how many.</summary>
    private static async Task<int> EchoesAsync(Socket tcp, Task until)
    {
        var served = 0;
        while (!until.IsCompleted || served < 3)
            await EchoedAsync(tcp, $"e{served++}\n").WaitAsync(Within);
        return served;
    }

    /// <summary>Bursts to <paramref name="udp"/> (each answered by a program of its own) one after the other until <paramref name="until"/>, and at least three; how many.</summary>
    private static async Task<int> BurstsAsync(Socket udp, Task until)
    {
        var served = 0;
        while (!until.IsCompleted || served < 3)
        {
            using var client = SocketActivationTests.Datagram();
            var text = $"b{served++}";
            client.SendTo(System.Text.Encoding.ASCII.GetBytes(text), udp.LocalEndPoint!);
            Assert.Equal($"once: {text}", await Task.Run(() => SocketActivationTests.Receive(client)).WaitAsync(Within));
        }
        return served;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Serve_TwentyReloadsDroppingAndBringingBackPassedSocketsUnderTraffic_ServeAllLeakNoDescriptorAndStop(bool oneAtATime)
    {
        using var dir = new TempDir();
        using var tcp = SocketActivationTests.Stream();
        using var udp = SocketActivationTests.Datagram();
        var tables = SocketActivationTests.Tables(dir);
        // A passed socket is let go by moving its service to an address the gate binds itself (a
        // reload cannot remove a section), another one each round: no bind waits for a close.
        const int rounds = 20;
        var ownTcp = Enumerable.Range(0, rounds + 1).Select(_ => Loopback.FreePort()).ToArray();
        var ownUdp = Enumerable.Range(0, rounds + 1).Select(_ => FreeUdpPort()).ToArray();
        // The last configuration alone adds a service (a reload may add one): its address says it was read.
        var last = Loopback.FreePort();
        string Conf(int round) => tables
            + (round == rounds ? $"[service:last]\nlisten = 127.0.0.1:{last}\nexec = /bin/cat\n" : "")
            + $"[service:cat]\nlisten = 127.0.0.1:{(round % 4 is 0 or 1 ? Port(tcp) : ownTcp[round])}\nexec = /bin/cat\n"
            + SocketActivationTests.OnceService(dir, $"udp:127.0.0.1:{(round % 4 is 0 or 2 ? Port(udp) : ownUdp[round])}");
        var conf = dir.Write("giftwrap.conf", Conf(0));
        using var gate = Activation.Serve(conf, (tcp, "cat"), (udp, "once"));
        await gate.WaitForAsync("listening on", Within);

        // Every kind of descriptor the gate makes for a connection, a burst and their programs, once.
        await EchoedAsync(tcp, "warm\n");
        using (var client = SocketActivationTests.Datagram())
        {
            client.SendTo("warm"u8, udp.LocalEndPoint!);
            Assert.Equal("once: warm", SocketActivationTests.Receive(client));
        }
        var before = Descriptors(gate.Id);

        var reloaded = new TaskCompletionSource();
        var echoes = Task.Run(() => EchoesAsync(tcp, reloaded.Task));
        var bursts = Task.Run(() => BurstsAsync(udp, reloaded.Task));
        for (var round = 1; round <= rounds; round++)
        {
            // Replaced whole (a rename): a reload may read it at any time when they are not waited for.
            File.WriteAllText(conf + ".new", Conf(round));
            File.Move(conf + ".new", conf, overwrite: true);
            if (oneAtATime)
                Assert.True(await ReloadAsync(gate, round), gate.Stderr);
            else
                Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        }
        // Back to back, the kernel merges a SIGHUP that comes while one is still pending: fewer reloads
        // than signals, the last of them after the last signal, so after the last file was in place.
        try
        {
            await gate.WaitForAsync($"127.0.0.1:{last}", Within);
        }
        catch (TimeoutException)
        {
            Assert.Fail("the last configuration was not taken\n" + gate.Stderr);
        }
        reloaded.SetResult();
        // Served in the end: those that came while their socket was let go waited in its queue.
        await Task.WhenAll(echoes, bursts);
        await EchoedAsync(tcp, "after\n");
        using (var client = SocketActivationTests.Datagram())
        {
            client.SendTo("after"u8, udp.LocalEndPoint!);
            Assert.Equal("once: after", SocketActivationTests.Receive(client));
        }

        // The stops of the listeners let go end on their own: no more descriptors than before (and the
        // last service's listener), within a bound.
        var until = DateTime.UtcNow + Settle;
        while (Descriptors(gate.Id) > before + 1 && DateTime.UtcNow < until)
            await Task.Delay(100);
        var held = string.Join('\n', new DirectoryInfo($"/proc/{gate.Id}/fd").EnumerateFileSystemInfos().Select(f => $"{f.Name} -> {f.LinkTarget}"));
        Assert.True(Descriptors(gate.Id) <= before + 1, $"{before} descriptors before the reloads, now:\n{held}\n{gate.Stderr}");
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
        // Back to back, a reload may find the file replaced while it reads it: refused, as it says.
        if (oneAtATime)
            Assert.False(gate.Stderr.Contains("reload refused", StringComparison.Ordinal), gate.Stderr);
        Stops(gate);
    }
}
