// What one short forwarded connection (connect, a small reply, close) allocates in the gate, as
// `giftwrap serve` runs it: decided on the event loop, the verdict line to a console, no syslog.
// The client and the backend use libc directly, so the process's allocations are the gate's (and
// the runtime's own background work, a few bytes per connection at most). A bound, not a timing:
// per-connection buffers or tasks would cross it. docs/benchmarks.md records the measured figure.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Interop;
using Giftwrap.Gate.Listening;
using Giftwrap.Gate.Logging;
using Xunit.Abstractions;

namespace Giftwrap.Gate.Tests;

// Alone: GC.GetTotalAllocatedBytes counts the whole process, so a test running beside it would add its
// own allocations (4,531 bytes per connection seen once, against 1,363 alone).
[Collection("alone")]
public sealed class ForwardAllocationTests(ITestOutputHelper output)
{
    private const int Connections = 2000;

    [Fact]
    public async Task ShortForwardedConnections_AllocateLessThanABoundEach()
    {
        await using var fixture = new GateFixture("ALL: ALL\n");
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(256);
        var replying = new Thread(() => Reply((int)backend.SafeHandle.DangerousGetHandle())) { IsBackground = true };
        replying.Start();
        var port = GateFixture.FreePort();
        var service = new ServiceConfig
        {
            Name = "alloc",
            Daemon = "alloc",
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Forward = (IPEndPoint)backend.LocalEndPoint!,
        };
        var config = fixture.Config(service) with { Syslog = null, Limits = new LimitsConfig { MaxPerSource = 10_000 } };
        using var console = new StreamWriter(Stream.Null);
        using var log = new GateLog(null, console);
        var server = new GateServer(config, log, new GateFixture.NoLookups());
        server.Start();
        try
        {
            Assert.Equal(200, Run(port, 200));
            var before = GC.GetTotalAllocatedBytes(precise: true);
            var served = Run(port, Connections);
            var perConnection = (GC.GetTotalAllocatedBytes(precise: true) - before) / Connections;
            output.WriteLine($"{perConnection} bytes allocated per forwarded connection");
            Assert.Equal(Connections, served);
            Assert.True(perConnection < 4096, $"{perConnection} bytes allocated per forwarded connection");
        }
        finally
        {
            await server.DisposeAsync();
            // SHUT_RDWR (2) on a listening socket wakes the backend's blocked accept(2).
            _ = Libc.shutdown((int)backend.SafeHandle.DangerousGetHandle(), 2);
        }
    }

    /// <summary>Connections one after the other: connect, read to the end, close. Returns how many brought the reply.</summary>
    private static unsafe int Run(int port, int count)
    {
        var address = stackalloc byte[SockAddr.In6Size];
        var length = SockAddr.Write(new IPEndPoint(IPAddress.Loopback, port), new Span<byte>(address, SockAddr.In6Size));
        var buffer = stackalloc byte[64];
        var served = 0;
        for (var i = 0; i < count; i++)
        {
            var fd = Libc.socket(Libc.AfInet, Libc.SockStream | Libc.SockCloexec, 0);
            Assert.True(fd >= 0);
            try
            {
                if (Libc.connect(fd, address, length) != 0)
                    continue;
                nint n, total = 0;
                while ((n = Libc.recv(fd, buffer, 64, 0)) > 0)
                    total += n;
                if (total == 3)
                    served++;
            }
            finally
            {
                _ = Libc.close(fd);
            }
        }
        return served;
    }

    /// <summary>The backend: "ok\n" to every connection, then close; until its socket is closed.</summary>
    private static unsafe void Reply(int listener)
    {
        var reply = stackalloc byte[] { (byte)'o', (byte)'k', (byte)'\n' };
        while (true)
        {
            var fd = Libc.accept4(listener, null, null, Libc.SockCloexec);
            if (fd < 0)
                return;
            _ = Libc.send(fd, reply, 3, Libc.MsgNoSignal);
            _ = Libc.close(fd);
        }
    }
}
