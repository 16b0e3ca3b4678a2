// `giftwrap` for linux-arm64 (NativeAOT, cross-compiled: Debian's gcc-aarch64-linux-gnu and
// libc6-dev-arm64-cross link it) run under qemu-user as a gate that forwards: the relay's epoll
// loop on arm64, where struct epoll_event is 16 bytes (12 on x86-64). qemu-aarch64 translates the
// guest's epoll_event to the host's as an arm64 kernel lays it out, so a 12-byte layout misreads
// every event after the first and lets the kernel write past the event buffer.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class Arm64Tests(PackagingFixture fixture)
{
    [Fact]
    public async Task Arm64Gate_UnderQemu_RelaysConcurrentConnectionsByteForByte()
    {
        var giftwrap = Publish();
        // ELF e_machine 183: AArch64.
        var header = new byte[20];
        using (var f = File.OpenRead(giftwrap))
            f.ReadExactly(header);
        Assert.Equal(183, BitConverter.ToUInt16(header, 18));

        var dir = Directory.CreateTempSubdirectory("giftwrap-arm64-").FullName;
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        var backendPort = ((IPEndPoint)backend.LocalEndpoint).Port;
        var port = FreePort();
        File.WriteAllText(Path.Combine(dir, "hosts.allow"), "ALL: ALL\n");
        File.WriteAllText(Path.Combine(dir, "hosts.deny"), "");
        File.WriteAllText(Path.Combine(dir, "giftwrap.conf"), $"""
            [tables]
            allow = {dir}/hosts.allow
            deny = {dir}/hosts.deny

            [service:echo]
            listen = 127.0.0.1:{port}
            forward = 127.0.0.1:{backendPort}

            [log]
            syslog = off
            """);
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var echoing = Echo(backend, cts.Token);
        var psi = new ProcessStartInfo("qemu-aarch64", ["-L", "/usr/aarch64-linux-gnu", giftwrap, "serve", "--config", Path.Combine(dir, "giftwrap.conf")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var gate = Process.Start(psi)!;
        var listening = new TaskCompletionSource();
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        void Line(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
                return;
            output.Enqueue(e.Data);
            if (e.Data.Contains("listening on", StringComparison.Ordinal))
                listening.TrySetResult();
        }
        gate.OutputDataReceived += Line;
        gate.ErrorDataReceived += Line;
        gate.BeginOutputReadLine();
        gate.BeginErrorReadLine();
        try
        {
            await listening.Task.WaitAsync(cts.Token);
            // Eight at once, so one epoll_wait hands the loop several events: the second onward is
            // where a wrong event size reads another event's bytes.
            var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => RoundTrip(port, 512 * 1024 + i, cts.Token)));
            Assert.All(results, r => Assert.True(r.Sent.AsSpan().SequenceEqual(r.Received), $"{r.Sent.Length} bytes sent, {r.Received.Length} came back, not the same"));
        }
        finally
        {
            if (!gate.HasExited)
                gate.Kill();
            await gate.WaitForExitAsync(CancellationToken.None);
            await cts.CancelAsync();
            backend.Stop();
            await echoing;
            Directory.Delete(dir, recursive: true);
        }
        Assert.DoesNotContain(output, l => l.Contains("   at ", StringComparison.Ordinal));
    }

    private string Publish() => Path.Combine(fixture.Arm64Binaries(), "giftwrap");

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    private static async Task<(byte[] Sent, byte[] Received)> RoundTrip(int port, int length, CancellationToken ct)
    {
        var data = RandomNumberGenerator.GetBytes(length);
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), ct);
        var sending = Task.Run(async () =>
        {
            await client.SendAsync(data, SocketFlags.None, ct);
            client.Shutdown(SocketShutdown.Send);
        }, ct);
        using var received = new MemoryStream();
        var buffer = new byte[65536];
        int n;
        while ((n = await client.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
            received.Write(buffer, 0, n);
        await sending;
        return (data, received.ToArray());
    }

    /// <summary>Sends back every byte of every connection until its client's FIN, then closes it.</summary>
    private static async Task Echo(TcpListener listener, CancellationToken ct)
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var s = await listener.AcceptSocketAsync(ct);
                connections.Add(Task.Run(async () =>
                {
                    using (s)
                    {
                        var buffer = new byte[65536];
                        int n;
                        while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0)
                            await s.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, ct);
                        s.Shutdown(SocketShutdown.Send);
                    }
                }, ct));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The test is over: the listener was stopped.
        }
        try
        {
            await Task.WhenAll(connections);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException)
        {
            // A connection cut by the end of the test.
        }
    }
}
