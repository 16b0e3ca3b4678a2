// A passed UDP socket whose service a reload drops while the program it started still holds the
// socket (blocking, on the program's stdio): the gate watches it again only once that program
// has exited and only non-blocking, so that a stop never waits on a receive; the program keeps
// its blocking socket until it exits, and one program at a time reads the socket (inetd "wait").
using System.Globalization;
using System.Text.RegularExpressions;

namespace Giftwrap.Cli.Tests;

public sealed partial class SocketActivationReloadTests
{
    // A bound for what the gate does on its own once a program has exited; a failure waits this long.
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(20);

    /// <summary>
    /// SocketActivationTests.Tables with hold.py as the "once" service's program: it answers every
    /// datagram ("hold PID blocking: DATA", its stdio's O_NONBLOCK said) until the file release
    /// exists (at most 60 s), and writes its pid to the file started when it starts, to done when it ends.
    /// </summary>
    private static string HoldTables(TempDir dir)
    {
        var tables = SocketActivationTests.Tables(dir);
        var hold = dir.Write("hold.py", $$"""
            #!/usr/bin/python3
            import fcntl, os, select, socket, time
            with open("{{dir.Path}}/started", "a") as f:
                f.write(f"{os.getpid()}\n")
            s = socket.socket(fileno=0)
            until = time.monotonic() + 60
            while time.monotonic() < until:
                if select.select([0], [], [], 0.1)[0]:
                    data, peer = s.recvfrom(100)
                    mode = "nonblocking" if fcntl.fcntl(0, fcntl.F_GETFL) & os.O_NONBLOCK else "blocking"
                    s.sendto(f"hold {os.getpid()} {mode}: ".encode() + data, peer)
                elif os.path.exists("{{dir.Path}}/release"):
                    break
            with open("{{dir.Path}}/done", "a") as f:
                f.write(f"{os.getpid()}\n")
            """);
        File.SetUnixFileMode(hold, (UnixFileMode)0b111_101_101);
        return tables;
    }

    private static string HoldConf(string tables, TempDir dir, int port) =>
        tables + $"[service:once]\nlisten = udp:127.0.0.1:{port}\nexec = {dir.Path}/hold.py\n";

    /// <summary>Sends <paramref name="text"/> to the passed socket's address; hold.py's answer, as (pid, rest).</summary>
    private static (int Pid, string Answer) Ask(System.Net.Sockets.Socket client, System.Net.Sockets.Socket passed, string text)
    {
        client.SendTo(System.Text.Encoding.ASCII.GetBytes(text), passed.LocalEndPoint!);
        var answer = SocketActivationTests.Receive(client);
        var m = Regex.Match(answer, "^hold ([0-9]+) (.*)$");
        Assert.True(m.Success, answer);
        return (int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), m.Groups[2].Value);
    }

    /// <summary>The pids hold.py wrote to <paramref name="file"/> (started or done).</summary>
    private static List<int> Pids(TempDir dir, string file)
    {
        var path = Path.Combine(dir.Path, file);
        return File.Exists(path) ? [.. File.ReadAllLines(path).Select(l => int.Parse(l, CultureInfo.InvariantCulture))] : [];
    }

    /// <summary>Waits (bounded) until <paramref name="count"/> hold.py programs have ended.</summary>
    private static async Task EndedAsync(TempDir dir, int count)
    {
        using var cts = new CancellationTokenSource(Within);
        while (Pids(dir, "done").Count < count)
            await Task.Delay(50, cts.Token);
    }

    /// <summary>O_NONBLOCK of the gate's descriptor of <paramref name="passed"/>, from /proc/PID/fdinfo (flags, in octal).</summary>
    private static bool NonBlocking(ServeProcess gate, System.Net.Sockets.Socket passed)
    {
        var fd = Activation.Sockets(gate.Id).Single(x => x.Value == Activation.Inode(passed)).Key;
        var flags = File.ReadAllLines($"/proc/{gate.Id}/fdinfo/{fd}").Single(l => l.StartsWith("flags:", StringComparison.Ordinal));
        return (Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 0x800) != 0;
    }

    /// <summary>Waits (bounded) until the gate's descriptor of <paramref name="passed"/> is non-blocking.</summary>
    private static async Task NonBlockingAsync(ServeProcess gate, System.Net.Sockets.Socket passed)
    {
        var until = DateTime.UtcNow + Settle;
        while (!NonBlocking(gate, passed))
        {
            Assert.True(DateTime.UtcNow < until, "the gate's descriptor of the passed socket stayed blocking\n" + gate.Stderr);
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// SIGTERM; the gate must end its stop by itself (status 0: no stop waits on a receive, nor for a
    /// program). A stop that hangs is cut short by the command line's own bound, with another status.
    /// </summary>
    private static void Stops(ServeProcess gate)
    {
        Assert.Equal(0, Loopback.Signal(gate.Id, 15));
        Assert.True(gate.ExitCode(Settle) == 0, "the gate did not end its stop\n" + gate.Stderr);
    }

    [Fact]
    public async Task Serve_ReloadDropsAPassedUdpAddressWhileItsProgramRuns_WatchedAgainLater_IsNonBlockingAndTheGateStops()
    {
        using var dir = new TempDir();
        using var udp = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = HoldTables(dir);
        var conf = dir.Write("giftwrap.conf", HoldConf(tables, dir, Port(udp)));
        using var gate = Activation.Serve(conf, (udp, "once"));
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{Port(udp)}", Within);
        using var client = SocketActivationTests.Datagram();
        Assert.Equal("blocking: a", Ask(client, udp, "a").Answer);

        // Dropped while its program holds the socket; the program ends before the address comes back.
        File.WriteAllText(conf, HoldConf(tables, dir, other));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        await gate.WaitForAsync($"activated socket udp:127.0.0.1:{Port(udp)} is listed no more: kept open", Within);
        dir.Write("release", "");
        await EndedAsync(dir, 1);
        File.WriteAllText(conf, HoldConf(tables, dir, Port(udp)));
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);

        await NonBlockingAsync(gate, udp);
        File.Delete(Path.Combine(dir.Path, "release"));
        var (pid, answer) = Ask(client, udp, "b");
        Assert.Equal("blocking: b", answer);
        Assert.Equal(Pids(dir, "started")[1], pid);
        dir.Write("release", "");
        await EndedAsync(dir, 2);
        await NonBlockingAsync(gate, udp);
        Stops(gate);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Serve_ReloadDropsAPassedUdpAddressAndBringsItBackWhileItsProgramRuns_TheProgramKeepsItUntilItExits(int times)
    {
        using var dir = new TempDir();
        using var udp = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = HoldTables(dir);
        var conf = dir.Write("giftwrap.conf", HoldConf(tables, dir, Port(udp)));
        using var gate = Activation.Serve(conf, (udp, "once"));
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{Port(udp)}", Within);
        using var client = SocketActivationTests.Datagram();
        var (first, answer) = Ask(client, udp, "a");
        Assert.Equal("blocking: a", answer);

        // Twice: the listener between, stopped before the program exited, never watched the socket.
        for (var i = 0; i < times; i++)
        {
            File.WriteAllText(conf, HoldConf(tables, dir, other));
            Assert.True(await ReloadAsync(gate, (2 * i) + 1), gate.Stderr);
            File.WriteAllText(conf, HoldConf(tables, dir, Port(udp)));
            Assert.True(await ReloadAsync(gate, (2 * i) + 2), gate.Stderr);
        }
        Assert.Contains($"configuration reloaded; listening on udp:127.0.0.1:{Port(udp)}", gate.Stderr, StringComparison.Ordinal);

        // The program started before the reloads still reads the socket, blocking, and alone.
        Assert.Equal((first, "blocking: c"), Ask(client, udp, "c"));
        dir.Write("release", "");
        await EndedAsync(dir, 1);
        await NonBlockingAsync(gate, udp);
        Assert.Equal(first, Assert.Single(Pids(dir, "started")));

        // Watched again: the next burst starts a program of its own, on a blocking socket.
        File.Delete(Path.Combine(dir.Path, "release"));
        var (second, then) = Ask(client, udp, "d");
        Assert.NotEqual(first, second);
        Assert.Equal("blocking: d", then);

        // A stop while that program runs ends the gate; the program keeps the socket as it was.
        Stops(gate);
        Assert.Equal((second, "blocking: e"), Ask(client, udp, "e"));
        dir.Write("release", "");
        await EndedAsync(dir, 2);
    }

    [Fact]
    public async Task Serve_StopWhileTheListenerBroughtBackWaitsForTheProgramBefore_EndsTheGate_TheProgramKeepsTheSocket()
    {
        using var dir = new TempDir();
        using var udp = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = HoldTables(dir);
        var conf = dir.Write("giftwrap.conf", HoldConf(tables, dir, Port(udp)));
        using var gate = Activation.Serve(conf, (udp, "once"));
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{Port(udp)}", Within);
        using var client = SocketActivationTests.Datagram();
        var (first, answer) = Ask(client, udp, "a");
        Assert.Equal("blocking: a", answer);
        File.WriteAllText(conf, HoldConf(tables, dir, other));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        File.WriteAllText(conf, HoldConf(tables, dir, Port(udp)));
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);

        // The new listener waits for the program (up to a minute): the stop does not.
        Stops(gate);
        Assert.Equal((first, "blocking: b"), Ask(client, udp, "b"));
        dir.Write("release", "");
        await EndedAsync(dir, 1);
        Assert.Equal(first, Assert.Single(Pids(dir, "started")));
    }
}
