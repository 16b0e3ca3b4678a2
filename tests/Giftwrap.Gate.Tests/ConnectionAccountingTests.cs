// Every way a connection can end gives its place in the limits back: a client that closes at once
// in front of a backend that never closes on EOF, a client that never closes after the backend's
// FIN (a half-closed connection still moving data is left alone); exec and twist programs counted
// while they run and given back when they are reaped, across a reload, or when a stop's drain
// runs out (a spawn still running included); a fault of the gate's own on the loop right after
// the admission (a throwing metrics listener) closes the client and gives its place back.
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

public sealed class ConnectionAccountingTests
{
    internal static ServiceConfig Forward(string daemon, int port, int backend) => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Loopback, port)],
        Forward = new IPEndPoint(IPAddress.Loopback, backend),
    };

    internal static ServiceConfig Exec(string daemon, int port, params string[] argv) => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Loopback, port)],
        Exec = argv,
    };

    [Fact]
    public async Task QuickCloseClients_BackendThatNeverCloses_GiveTheirSlotsBack()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var sink = new HoldingBackend();
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var other = GateFixture.FreePort();
        var config = gate.Config(Forward("sink", port, sink.Port), Forward("echo", other, echo.Port));
        var server = gate.Start(config with
        {
            Limits = config.Limits with { MaxConnections = 10, MaxPerSource = 10, HalfCloseTimeout = TimeSpan.FromSeconds(1) },
        });

        // Three times the limit of clients that connect and close at once (FIN): the backend keeps
        // its side open and never answers, so only the half-close timeout can end them.
        for (var i = 0; i < 30; i++)
        {
            using var c = await GateFixture.ConnectAsync(port, from: $"127.0.{i / 10}.{1 + i % 10}");
        }
        // The first ten reached the backend and hold every place there is.
        await WaitUntilAsync(() => sink.Accepted >= 10, TimeSpan.FromSeconds(5));
        await WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(10));

        // The gate serves again, on every service.
        Assert.Equal("hello", await EchoAsync(other, "hello"));
    }

    [Fact]
    public async Task FaultOnTheLoopAfterAdmission_ClosesTheClient_AndGivesItsPlaceBack()
    {
        // A metrics listener that throws when this daemon's connections start: the gate's first
        // step after admitting one. Other tests' daemons pass.
        var daemon = $"faulty{Guid.NewGuid():N}"[..14];
        using var meter = new MeterListener();
        meter.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "Giftwrap" && i.Name == "giftwrap.connections.active")
                l.EnableMeasurementEvents(i);
        };
        meter.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var t in tags)
            {
                if (value > 0 && t.Key == "daemon" && Equals(t.Value, daemon))
                    throw new InvalidOperationException("listener fault");
            }
        });
        meter.Start();
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var config = gate.Config(Forward(daemon, port, echo.Port));
        var server = gate.Start(config with { Limits = config.Limits with { MaxConnections = 2, MaxPerSource = 2 } });

        // More clients than places: each is closed at once (fail closed), none keeps a place.
        for (var i = 0; i < 5; i++)
        {
            using var c = await GateFixture.ConnectAsync(port);
            Assert.Equal("", await GateFixture.ReadAllAsync(c).WaitAsync(TimeSpan.FromSeconds(5)));
        }
        await WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(5));
        Assert.Contains("refused connect from 127.0.0.1: InvalidOperationException: listener fault", await gate.WaitForLogAsync("listener fault"), StringComparison.Ordinal);
        Assert.DoesNotContain(gate.LogLines, l => l.Contains("too many", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ClientThatNeverCloses_AfterTheBackendsFin_IsEndedWhenIdle()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var closer = new HoldingBackend(closeAtOnce: true);
        var port = GateFixture.FreePort();
        var config = gate.Config(Forward("closer", port, closer.Port));
        var server = gate.Start(config with { Limits = config.Limits with { HalfCloseTimeout = TimeSpan.FromSeconds(1) } });

        // The client reads the backend's end and then keeps its own side open, saying nothing.
        using var client = await GateFixture.ConnectAsync(port);
        var buffer = new byte[16];
        Assert.Equal(0, await client.ReceiveAsync(buffer, SocketFlags.None));
        Assert.Equal(1, server.OpenConnections);
        await WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task HalfClosedConnection_StillMovingData_IsNotEnded()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var talker = new HoldingBackend(talkEveryMs: 100);
        var port = GateFixture.FreePort();
        var config = gate.Config(Forward("talker", port, talker.Port));
        var server = gate.Start(config with { Limits = config.Limits with { HalfCloseTimeout = TimeSpan.FromSeconds(1.5) } });

        // The client half-closes and listens: the backend's bytes keep coming, so the connection
        // is not idle and outlives several timeouts.
        using var client = await GateFixture.ConnectAsync(port);
        client.Shutdown(SocketShutdown.Send);
        var received = 0;
        var buffer = new byte[64];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        try
        {
            while (true)
            {
                var n = await client.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                Assert.NotEqual(0, n);
                received += n;
            }
        }
        catch (OperationCanceledException)
        {
            // Four seconds of listening, more than two timeouts: still open.
        }
        Assert.True(received >= 5, $"only {received} bytes came through");
        Assert.Equal(1, server.OpenConnections);
    }

    [Fact]
    public async Task ExecPrograms_CountAgainstMaxConnections_UntilTheyAreReaped()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        var port = GateFixture.FreePort();
        var config = gate.Config(Exec("cat", port, "/bin/cat"));
        var server = gate.Start(config with { Limits = config.Limits with { MaxConnections = 4 } });

        // Four clients, each with its own cat running (each echoes a line back).
        var clients = new List<Socket>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var c = await GateFixture.ConnectAsync(port);
                clients.Add(c);
                Assert.Equal($"c{i}\n", await LineAsync(c, $"c{i}\n"));
            }
            Assert.Equal(4, server.OpenConnections);

            // A fifth is refused while the four programs run.
            using (var fifth = await GateFixture.ConnectAsync(port))
            {
                await fifth.SendAsync("x\n"u8.ToArray(), SocketFlags.None);
                Assert.Equal("", await GateFixture.ReadAllAsync(fifth));
            }
            await gate.WaitForLogAsync("too many connections: 4");

            // One client leaves: its cat sees the end, exits, is reaped, and the place is free again.
            clients[0].Shutdown(SocketShutdown.Send);
            Assert.Equal("", await GateFixture.ReadAllAsync(clients[0]));
            await WaitUntilAsync(() => server.OpenConnections == 3, TimeSpan.FromSeconds(10));
            var next = await GateFixture.ConnectAsync(port);
            clients.Add(next);
            Assert.Equal("again\n", await LineAsync(next, "again\n"));
        }
        finally
        {
            foreach (var c in clients)
                c.Dispose();
        }
        // Every program ends with its client: nothing is left counted.
        await WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task TwistPrograms_CountAgainstMaxConnections_WhileTheyRun()
    {
        await using var gate = new GateFixture("ALL: ALL : twist exec /bin/cat\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var config = gate.Config(Forward("echo", port, echo.Port));
        var server = gate.Start(config with { Limits = config.Limits with { MaxConnections = 2 } });
        using var first = await GateFixture.ConnectAsync(port);
        using var second = await GateFixture.ConnectAsync(port);
        Assert.Equal("1\n", await LineAsync(first, "1\n"));
        Assert.Equal("2\n", await LineAsync(second, "2\n"));
        Assert.Equal(2, server.OpenConnections);
        using (var third = await GateFixture.ConnectAsync(port))
            Assert.Equal("", await GateFixture.ReadAllAsync(third));
        await gate.WaitForLogAsync("too many connections: 2");

        first.Shutdown(SocketShutdown.Send);
        second.Shutdown(SocketShutdown.Send);
        Assert.Equal("", await GateFixture.ReadAllAsync(first));
        Assert.Equal("", await GateFixture.ReadAllAsync(second));
        await WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ExecProgramThatExitsFirst_GivesTheSlotBack_WhileTheClientStaysOpen()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        var port = GateFixture.FreePort();
        var config = gate.Config(Exec("hi", port, "/bin/sh", "-c", "echo hi"));
        var server = gate.Start(config with { Limits = config.Limits with { MaxConnections = 1 } });
        for (var i = 0; i < 3; i++)
        {
            using var c = await GateFixture.ConnectAsync(port);
            Assert.Equal("hi\n", await GateFixture.ReadAllAsync(c));
            await WaitUntilAsync(() => server.OpenConnections == 0, TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task ExecPrograms_AcrossAReload_AndAStopWhoseDrainRunsOut_GiveTheirPlacesBack()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        var port = GateFixture.FreePort();
        var config = gate.Config(Exec("cat", port, "/bin/cat"));
        var server = gate.Start(config);
        using var first = await GateFixture.ConnectAsync(port);
        using var second = await GateFixture.ConnectAsync(port);
        Assert.Equal("1\n", await LineAsync(first, "1\n"));
        Assert.Equal("2\n", await LineAsync(second, "2\n"));

        // A reload with other limits: the running programs stay counted, and one that ends is given back.
        server.Reload(config with { Limits = config.Limits with { MaxConnections = 100, HalfCloseTimeout = TimeSpan.FromSeconds(5) } });
        Assert.Equal(2, server.OpenConnections);
        first.Shutdown(SocketShutdown.Send);
        Assert.Equal("", await GateFixture.ReadAllAsync(first));
        await WaitUntilAsync(() => server.OpenConnections == 1, TimeSpan.FromSeconds(10));

        // A stop whose drain runs out while a program still runs: nothing is left counted.
        await server.StopAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal(0, server.OpenConnections);
    }

    [Fact]
    public async Task Stop_WhileASpawnStillRuns_GivesTheConnectionsPlaceBack()
    {
        var token = $"42{Random.Shared.Next(100000, 999999)}";
        await using var gate = new GateFixture($"ALL: ALL : spawn (sleep 30.{token})\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var server = gate.Start(gate.Config(Forward("echo", port, echo.Port)));
        try
        {
            // The spawn is waited for, as libwrap waits: the connection is held meanwhile.
            using var client = await GateFixture.ConnectAsync(port);
            await WaitUntilAsync(() => ProcessCounts.WithToken(token) > 0, TimeSpan.FromSeconds(5));
            Assert.Equal(1, server.OpenConnections);

            await server.StopAsync(TimeSpan.FromMilliseconds(300));
            Assert.Equal(0, server.OpenConnections);
        }
        finally
        {
            ProcessCounts.KillWithToken(token);
        }
    }

    /// <summary>Sends <paramref name="line"/> and reads until a newline comes back.</summary>
    internal static async Task<string> LineAsync(Socket c, string line)
    {
        await c.SendAsync(Encoding.ASCII.GetBytes(line), SocketFlags.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var sb = new StringBuilder();
        var buffer = new byte[256];
        while (!sb.ToString().EndsWith('\n'))
        {
            var n = await c.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            if (n == 0)
                break;
            sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        return sb.ToString();
    }

    internal static async Task<string> EchoAsync(int port, string text, string from = "127.0.0.1")
    {
        using var c = await GateFixture.ConnectAsync(port, from);
        await c.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        c.Shutdown(SocketShutdown.Send);
        return await GateFixture.ReadAllAsync(c);
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (!condition() && DateTime.UtcNow < until)
            await Task.Delay(25);
        Assert.True(condition(), $"the condition did not come true within {limit.TotalSeconds:0} s");
    }
}

/// <summary>
/// A backend that accepts and keeps every connection open without reading (so it never sees an
/// end of stream), or closes each at once (FIN, or a reset), or writes a byte every so often; all
/// closed on dispose.
/// </summary>
public sealed class HoldingBackend : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _held = [];
    private readonly bool _closeAtOnce;
    private readonly bool _resetAtOnce;
    private readonly int _talkEveryMs;
    private readonly CancellationTokenSource _stop = new();

    public HoldingBackend(bool closeAtOnce = false, int talkEveryMs = 0, bool resetAtOnce = false)
    {
        _closeAtOnce = closeAtOnce;
        _resetAtOnce = resetAtOnce;
        _talkEveryMs = talkEveryMs;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    public int Accepted => Volatile.Read(ref _accepted);

    private int _accepted;

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket s;
            try
            {
                s = await _listener.AcceptAsync();
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            if (_resetAtOnce)
            {
                s.LingerState = new LingerOption(true, 0);
                s.Dispose();
                continue;
            }
            if (_closeAtOnce)
            {
                s.Shutdown(SocketShutdown.Send);
                lock (_held)
                    _held.Add(s);
                continue;
            }
            lock (_held)
                _held.Add(s);
            if (_talkEveryMs > 0)
                _ = Task.Run(() => TalkAsync(s));
        }
    }

    private async Task TalkAsync(Socket s)
    {
        try
        {
            while (true)
            {
                await Task.Delay(_talkEveryMs, _stop.Token);
                await s.SendAsync("."u8.ToArray(), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The gate ended the connection, or the test is over.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_held)
        {
            foreach (var s in _held)
                s.Dispose();
        }
        _stop.Dispose();
    }
}
