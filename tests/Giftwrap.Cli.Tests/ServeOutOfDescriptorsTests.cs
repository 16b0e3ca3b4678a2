// `giftwrap serve` run out of descriptors: its soft RLIMIT_NOFILE lowered (prlimit --pid) to what
// it holds plus one, or flooded with held connections under a low limit. It must stay up, keep the
// top of the limit free for the runtime, say so without filling the log, reap its children, and
// serve as before once descriptors are free again.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class ServeOutOfDescriptorsTests
{
    [Fact]
    public async Task ExecService_FirstConnectionWithNoDescriptorLeft_GateStaysUp_ThenServesAndReaps()
    {
        using var dir = new TempDir();
        // warm: an option sends its connections the long way, on the thread pool (its backend refuses).
        dir.Write("hosts.allow", "warm: ALL: setenv X y\nALL: ALL\n");
        var port = Loopback.FreePort();
        var warm = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:hello]\nlisten = 127.0.0.1:{port}\nexec = /bin/echo served\n" +
            $"[service:warm]\nlisten = 127.0.0.1:{warm}\nforward = 127.0.0.1:{Loopback.FreePort()}\n");
        using var gate = new ServeProcess(conf, drainSeconds: 2);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(30));
        // Thread-pool workers first: the runtime cannot start a thread with no descriptor left (it
        // opens a pipe for each), and the long way needs one.
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ExchangeAsync(warm)));
        await gate.WaitForAsync("cannot connect to backend", TimeSpan.FromSeconds(10), count: 8);
        await Task.Delay(500);

        // The first program of the gate's life, with no descriptor left for anything after the
        // accept: the reaper's thread could not start then, and SIGCHLD took the gate down. Since
        // the relay keeps a reserve (DescriptorReserve), such a connection is closed at once instead.
        var first = await ExchangeSqueezedAsync(gate, port);
        Assert.True(first.Got is "" or "served\n", first.Describe(gate));
        await Task.Delay(1500);
        Assert.Null(gate.ExitCode(TimeSpan.FromMilliseconds(100)));

        for (var i = 0; i < 3; i++)
            Assert.Equal("served\n", await ExchangeAsync(port));
        // Reaped: no zombie child is left behind, the first one included.
        var deadline = Stopwatch.StartNew();
        while (Zombies(gate.Id) > 0 && deadline.Elapsed < TimeSpan.FromSeconds(10))
            await Task.Delay(100);
        Assert.Equal(0, Zombies(gate.Id));
        Assert.Null(gate.ExitCode(TimeSpan.FromMilliseconds(100)));
        Assert.DoesNotContain("Unhandled exception", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ForwardService_FirstConnectionWithNoDescriptorLeft_IsClosed_AndTheNextAreServed()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(16);
        _ = Task.Run(async () =>
        {
            // Bounded (a handful is needed); it also ends when the backend is disposed.
            for (var i = 0; i < 1000; i++)
            {
                using var c = await backend.AcceptAsync();
                await c.SendAsync("hi\n"u8.ToArray(), SocketFlags.None);
            }
        });
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:fw]\nlisten = 127.0.0.1:{port}\nforward = {backend.LocalEndPoint}\n");
        using var gate = new ServeProcess(conf, drainSeconds: 2);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(30));
        await Task.Delay(500);

        // The gate's first connection takes its last descriptor: whatever it loaded then for the
        // first time could not be opened, and a type that failed so fails for good.
        var first = await ExchangeSqueezedAsync(gate, port);
        Assert.True(first.Got is "" or "hi\n", first.Describe(gate));

        for (var i = 0; i < 3; i++)
            Assert.Equal("hi\n", await ExchangeAsync(port));
        Assert.Null(gate.ExitCode(TimeSpan.FromMilliseconds(100)));
    }

    [Fact]
    public async Task FloodOfHeldConnections_UnderALowLimit_LeavesTheReserveFree_SaysSoOnce_AndServesAfter()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(512);
        var held = new List<Socket>();
        _ = Task.Run(async () =>
        {
            // Bounded (about 100 are needed); it also ends when the backend is disposed.
            for (var i = 0; i < 1000; i++)
            {
                var c = await backend.AcceptAsync();
                lock (held)
                    held.Add(c);
            }
        });
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:hold]\nlisten = 127.0.0.1:{port}\nforward = {backend.LocalEndPoint}\n");
        using var gate = new ServeProcess(conf, drainSeconds: 2);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(30));
        await Task.Delay(500);
        var soft = DescriptorLimit.Soft(gate.Id);
        var limit = Directory.GetFileSystemEntries($"/proc/{gate.Id}/fd").Length + 48;
        await DescriptorLimit.SetSoftAsync(gate.Id, limit);

        // Twice as many clients as the limit has room for, each held open, for three seconds.
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 100; i++)
            {
                var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                clients.Add(c);
                await c.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));
            }
            await Task.Delay(3000);
            // The top of the limit stays free for the runtime: 16 descriptors here (a sixteenth, at least 16).
            var top = Descriptors(gate.Id).Count(fd => fd >= limit - 16 && fd < limit);
            Assert.True(top < 8, $"{top} of the 16 reserved descriptors in use");
        }
        finally
        {
            foreach (var c in clients)
                c.Dispose();
            lock (held)
            {
                foreach (var c in held)
                    c.Dispose();
                held.Clear();
            }
        }
        // Said, but not ten times a second per listener.
        await gate.WaitForAsync("error: accept on", TimeSpan.FromSeconds(5));
        Assert.True(gate.Stderr.Split('\n').Count(l => l.Contains("error: accept on", StringComparison.Ordinal)) <= 2, gate.Stderr);
        await DescriptorLimit.SetSoftAsync(gate.Id, soft);
        await Task.Delay(500);
        using var last = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await last.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            lock (held)
            {
                if (held.Count > 0)
                    break;
            }
            await Task.Delay(50);
        }
        lock (held)
            Assert.NotEmpty(held);
        Assert.Null(gate.ExitCode(TimeSpan.FromMilliseconds(100)));
    }

    private static IEnumerable<int> Descriptors(int pid) =>
        Directory.GetFileSystemEntries($"/proc/{pid}/fd").Select(f => int.Parse(Path.GetFileName(f), CultureInfo.InvariantCulture));

    /// <summary>What a connection made with the gate squeezed to its last descriptor got, and how.</summary>
    private sealed record Squeezed(string Got, bool WhileSqueezed, int Limit, string DescriptorsBefore)
    {
        public string Describe(ServeProcess gate) =>
            $"got '{Got}' ({(WhileSqueezed ? "while" : "only after")} the limit was {Limit}); descriptors then: {DescriptorsBefore}\n{gate.Stderr}";
    }

    /// <summary>
    /// Lowers the gate's soft limit to the descriptors it holds plus one, connects, and gives the limit
    /// back. Where the last descriptor goes is the runtime's to race for: the accept takes it (and the
    /// connection is refused at once, into the reserve, or served with nothing else to open), or a
    /// thread the runtime starts meanwhile does (then accept(2) fails with EMFILE, the listener pauses,
    /// and the connection waits in the backlog until the limit is back). Each is a gate that stays up.
    /// </summary>
    private static async Task<Squeezed> ExchangeSqueezedAsync(ServeProcess gate, int port)
    {
        var soft = DescriptorLimit.Soft(gate.Id);
        var held = Descriptors(gate.Id).Order().ToList();
        var limit = held.Count + 1;
        await DescriptorLimit.SetSoftAsync(gate.Id, limit);
        var exchange = ExchangeAsync(port, TimeSpan.FromSeconds(30));
        await Task.WhenAny(exchange, Task.Delay(TimeSpan.FromSeconds(3)));
        var whileSqueezed = exchange.IsCompleted;
        await DescriptorLimit.SetSoftAsync(gate.Id, soft);
        return new Squeezed(await exchange, whileSqueezed, limit, string.Join(' ', held));
    }

    private static async Task<string> ExchangeAsync(int port) => await ExchangeAsync(port, TimeSpan.FromSeconds(10));

    private static async Task<string> ExchangeAsync(int port, TimeSpan within)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(within);
        try
        {
            int n;
            while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        catch (SocketException)
        {
            // A reset is the end of what was sent (the refused backend's client).
        }
        return text.ToString();
    }


    /// <summary>Children of <paramref name="pid"/> that have exited and were not waited for.</summary>
    private static int Zombies(int pid)
    {
        var count = 0;
        foreach (var stat in Directory.EnumerateDirectories("/proc").Select(d => Path.Combine(d, "stat")))
        {
            string text;
            try
            {
                text = File.ReadAllText(stat);
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }
            // "pid (comm) S ppid ...": the fields after the last ')'.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            if (fields[0] == "Z" && fields[1] == pid.ToString(CultureInfo.InvariantCulture))
                count++;
        }
        return count;
    }
}
