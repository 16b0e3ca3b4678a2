// A soak on loopback: for a few seconds, clients open and abandon connections every way they
// can (FIN at once, RST, half-close, idle, mid-stream reset) against forward services (a backend
// that echoes, one that never closes, one that resets at once) and exec services (a program that
// reads to the end, one that ignores its input and exits), with reloads on the way; afterwards every count is back at zero (the gate's own count, the
// giftwrap.connections.active metric, the programs it started) and a fresh client is served.
// Runs alone: it counts this process's children.
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Giftwrap.Gate.Tests;

[CollectionDefinition("alone", DisableParallelization = true)]
public sealed class AloneCollection;

[Collection("alone")]
public sealed class SoakTests(ITestOutputHelper output)
{
    private const int Workers = 8;
    private const int MaxRoundsPerWorker = 1000;
    // Connections left open at once; past this the oldest is abandoned (so the gate keeps serving).
    private const int MaxKept = 24;
    private static readonly TimeSpan SoakTime = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task Soak_ConnectionsAbandonedEveryWay_CountsBackAtZero_AndAFreshClientIsServed()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        using var sink = new HoldingBackend();
        using var resetter = new HoldingBackend(resetAtOnce: true);
        using var active = new CounterMeter("giftwrap.connections.active");
        var ports = Enumerable.Range(0, 5).Select(_ => GateFixture.FreePort()).ToArray();
        var config = gate.Config(
            ConnectionAccountingTests.Forward("echo", ports[0], echo.Port),
            ConnectionAccountingTests.Forward("sink", ports[1], sink.Port),
            ConnectionAccountingTests.Exec("cat", ports[2], "/bin/cat"),
            ConnectionAccountingTests.Exec("nap", ports[3], "/bin/sleep", "1"),
            ConnectionAccountingTests.Forward("reset", ports[4], resetter.Port));
        var limits = config.Limits with { MaxConnections = 256, MaxPerSource = 16, HalfCloseTimeout = TimeSpan.FromSeconds(1) };
        var server = gate.Start(config with { Limits = limits });
        var childrenBefore = ProcessCounts.Children();

        var kept = new Queue<Socket>();
        var until = DateTime.UtcNow + SoakTime;
        var begun = DateTime.UtcNow;
        var reloads = 0;
        var soak = Task.WhenAll(Enumerable.Range(0, Workers).Select(w => Task.Run(() => WorkAsync(w, ports, until, kept))));
        // Reloads on the way, each with other limits (new tables and handler; open connections stay).
        for (var i = 0; i < 3 && !soak.IsCompleted; i++)
        {
            await Task.WhenAny(soak, Task.Delay(SoakTime / 4));
            server.Reload(config with { Limits = limits with { DecisionTimeout = TimeSpan.FromSeconds(5 + i) } });
            reloads++;
        }
        var rounds = await soak;
        Assert.True(rounds.Sum() >= Workers * 10, $"only {rounds.Sum()} connections in the soak");
        var started = DateTime.UtcNow;
        var left = kept.Count;
        var served = gate.LogLines.Count(l => l.Contains(": connect from", StringComparison.Ordinal));
        var refused = gate.LogLines.Count(l => l.Contains("(too many connections", StringComparison.Ordinal) || l.Contains("connections from one address)", StringComparison.Ordinal));
        output.WriteLine($"soak: {rounds.Sum()} connections in {(started - begun).TotalSeconds:0.0} s with {reloads} reloads, {served} admitted and {refused} refused by a limit (as logged so far), {left} left open, {server.OpenConnections} counted at its end, {ProcessCounts.Children() - childrenBefore} programs running");

        // The abandoned ones go now: half with a reset, half with a FIN.
        lock (kept)
        {
            for (var i = 0; kept.TryDequeue(out var s); i++)
                Abandon(s, reset: i % 2 == 0);
        }

        await ConnectionAccountingTests.WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(20));
        await ConnectionAccountingTests.WaitUntilAsync(() => active.Value == 0, TimeSpan.FromSeconds(5));
        await ConnectionAccountingTests.WaitUntilAsync(() => ProcessCounts.Children() <= childrenBefore, TimeSpan.FromSeconds(10));
        output.WriteLine($"soak: every count back at zero {(DateTime.UtcNow - started).TotalSeconds:0.0} s after the end");

        // A fresh client is served by every kind of service.
        Assert.Equal("fresh", await ConnectionAccountingTests.EchoAsync(ports[0], "fresh", "127.9.9.9"));
        using (var c = await GateFixture.ConnectAsync(ports[2], "127.9.9.9"))
            Assert.Equal("fresh\n", await ConnectionAccountingTests.LineAsync(c, "fresh\n"));
        await ConnectionAccountingTests.WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(10));
    }

    /// <summary>One client's loop: a different way of leaving each round, a different source address each time.</summary>
    private static async Task<int> WorkAsync(int worker, int[] ports, DateTime until, Queue<Socket> kept)
    {
        var round = 0;
        for (; round < MaxRoundsPerWorker && DateTime.UtcNow < until; round++)
        {
            var port = ports[(round + worker) % ports.Length];
            var from = $"127.1.{worker}.{1 + round % 16}";
            Socket s;
            try
            {
                s = await GateFixture.ConnectAsync(port, from);
            }
            catch (SocketException)
            {
                // The gate's listen queue was full for a moment; the next round tries again.
                continue;
            }
            try
            {
                await LeaveAsync(s, round % 6, kept);
            }
            catch (SocketException)
            {
                // Refused by a limit (the gate closed first): also a way to end.
                s.Dispose();
            }
        }
        return round;
    }

    private static async Task LeaveAsync(Socket s, int way, Queue<Socket> kept)
    {
        switch (way)
        {
            case 0:
                // FIN at once.
                s.Dispose();
                break;
            case 1:
                // RST at once.
                Abandon(s, reset: true);
                break;
            case 2:
                // Some data, then FIN without reading the answer.
                await s.SendAsync(new byte[300], SocketFlags.None);
                s.Dispose();
                break;
            case 3:
                // Half-close, then left open, unread.
                await s.SendAsync("half\n"u8.ToArray(), SocketFlags.None);
                s.Shutdown(SocketShutdown.Send);
                Keep(s, kept);
                break;
            case 4:
                // Idle: connected, never a byte, left open.
                Keep(s, kept);
                break;
            default:
                // A bulk send cut by a reset mid-stream.
                var send = s.SendAsync(new byte[256 * 1024], SocketFlags.None);
                await Task.WhenAny(send, Task.Delay(20));
                Abandon(s, reset: true);
                try
                {
                    await send;
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // Cut short on purpose.
                }
                break;
        }
    }

    private static void Keep(Socket s, Queue<Socket> kept)
    {
        Socket? oldest = null;
        lock (kept)
        {
            kept.Enqueue(s);
            if (kept.Count > MaxKept)
                oldest = kept.Dequeue();
        }
        if (oldest is not null)
            Abandon(oldest, reset: (oldest.GetHashCode() & 1) == 0);
    }

    private static void Abandon(Socket s, bool reset)
    {
        if (reset)
            s.LingerState = new LingerOption(true, 0);
        s.Dispose();
    }
}

/// <summary>This process's children, from /proc (zombies included: a child not reaped counts).</summary>
public static class ProcessCounts
{
    public static int Children() => Descendants(Environment.ProcessId, direct: true);

    /// <summary>Processes whose command line contains <paramref name="token"/>.</summary>
    public static int WithToken(string token)
    {
        var count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
                continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(token, StringComparison.Ordinal))
                    count++;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone while we looked.
            }
        }
        return count;
    }

    /// <summary>Stops (SIGKILL, by pid) every process whose command line contains <paramref name="token"/>.</summary>
    public static void KillWithToken(string token)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
                continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(token, StringComparison.Ordinal))
                {
                    using var p = System.Diagnostics.Process.GetProcessById(pid);
                    p.Kill();
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Gone while we looked.
            }
        }
    }

    /// <summary>Processes below <paramref name="pid"/>: its children, or every descendant.</summary>
    public static int Descendants(int pid, bool direct = false)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var p))
                continue;
            try
            {
                // Fields after the command name, which may contain blanks and parentheses: state ppid ...
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                parents[p] = int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
            {
                // Gone while we looked.
            }
        }
        var count = 0;
        foreach (var (p, parent) in parents)
        {
            if (parent == pid)
                count++;
            else if (!direct && IsBelow(parent, pid, parents))
                count++;
        }
        return count;
    }

    private static bool IsBelow(int p, int ancestor, Dictionary<int, int> parents)
    {
        for (var i = 0; i < 64 && p > 1; i++)
        {
            if (p == ancestor)
                return true;
            if (!parents.TryGetValue(p, out p))
                return false;
        }
        return false;
    }
}
