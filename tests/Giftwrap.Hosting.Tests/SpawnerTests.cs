// The spawner with real programs and real sockets: the caller's descriptor is let go of once the
// program has its own (the program still talks to the peer), a program that cannot start fails with
// IOException and its descriptor is let go of all the same, and many starts at once all run within the thread bound.
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Hosting.Tests;

public sealed class SpawnerTests
{
    [Fact]
    public async Task StartAsync_ReleasesTheCallersDescriptor_ProgramKeepsTheConnection()
    {
        var (ours, theirs) = SocketPair();
        using var peer = ours;
        var started = await Spawner.StartAsync(ProcessLauncher.ShellCommand("read line; echo \"got $line\""), new ProcessState(),
            (int)theirs.SafeHandle.DangerousGetHandle(), theirs);
        Assert.True(theirs.SafeHandle.IsClosed);
        await peer.SendAsync(Encoding.ASCII.GetBytes("hello\n"));
        Assert.Equal("got hello\n", await ReadToEndAsync(peer));
        Assert.Equal(0, (await started).Status);
    }

    [Fact]
    public async Task StartAsync_NoSuchProgram_FailsWithIOException_AndReleases()
    {
        var (ours, theirs) = SocketPair();
        using var peer = ours;
        await Assert.ThrowsAsync<IOException>(() => Spawner.StartAsync(["/nonexistent/giftwrap-test"], new ProcessState(),
            (int)theirs.SafeHandle.DangerousGetHandle(), theirs));
        Assert.True(theirs.SafeHandle.IsClosed);
        // No copy of the descriptor is left anywhere: the peer sees the end.
        Assert.Equal("", await ReadToEndAsync(peer));
    }

    [Fact]
    public async Task StartAsync_ManyAtOnce_EachRunsWithItsOwnStatus_WithinTheThreadBound()
    {
        var starts = Enumerable.Range(0, 3 * Spawner.MaxThreads)
            .Select(i => Spawner.StartAsync(ProcessLauncher.ShellCommand($"sleep 0.2; exit {i}"), new ProcessState(), -1, null))
            .ToArray();
        Assert.InRange(Spawner.Threads, 1, Spawner.MaxThreads);
        var exits = await Task.WhenAll(await Task.WhenAll(starts));
        Assert.Equal(Enumerable.Range(0, starts.Length), exits.Select(e => e.Status));
    }

    private static (Socket Ours, Socket Theirs) SocketPair()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(1);
        var ours = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        ours.Connect(listener.LocalEndPoint!);
        return (ours, listener.Accept());
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var text = new StringBuilder();
        var buffer = new byte[256];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        return text.ToString();
    }
}
