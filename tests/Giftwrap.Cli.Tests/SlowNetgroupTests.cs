// A netgroup source that does not answer must hold only the connections that need it: innetgr()
// (like getpwnam()) goes the long way, off the relay's loops, as DNS and ident do. The gate runs
// in a private mount namespace whose /etc (an overlay: the machine's own is untouched) has an
// nsswitch.conf with `netgroup: files` and an /etc/netgroup that is a FIFO: glibc's open() of it
// waits until the test opens the other end, as a stalled NIS or LDAP server would.
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SlowNetgroupTests
{
    // Runs as: sh -c SCRIPT DIR COMMAND... ($0 is DIR, "$@" the command); exec keeps the pid the gate's.
    // No diagnostics: the runtime's debugger transport waits on FIFOs of its own (".NET DebugPipe").
    private const string Script = """
        set -e
        D=$0
        mount --make-rprivate /
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$D/up,workdir=$D/work" /etc
        printf 'passwd: files\ngroup: files\nhosts: files\nnetgroup: files\n' > /etc/nsswitch.conf
        : > /etc/netgroup
        mount --bind "$D/netgroup" /etc/netgroup
        export DOTNET_EnableDiagnostics=0
        exec "$@"
        """;

    private const int Stuck = 8;

    [Fact]
    public async Task Serve_NetgroupSourceStalled_OtherClientsStillServed_StalledOnesRefusedOnceItAnswers()
    {
        if (Environment.UserName != "root")
            throw new InvalidOperationException("the test needs root (a mount namespace, an overlay on /etc)");
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "up"));
        Directory.CreateDirectory(Path.Combine(dir.Path, "work"));
        var fifo = Path.Combine(dir.Path, "netgroup");
        Assert.Equal(0, Loopback.MakeFifo(fifo));
        // 127.0.0.3 is granted by the first rule, before any netgroup is asked; 127.0.0.2 needs @slow.
        dir.Write("hosts.allow", "ALL: 127.0.0.3\nALL: @slow\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        using var stop = new CancellationTokenSource();
        var echo = EchoAsync(backend, stop.Token);
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[log]\nsyslog = off\n[service:echo]\nlisten = 127.0.0.1:{port}\nforward = {backend.LocalEndpoint}\n" +
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[limits]\ndecision_timeout = 120s\n");
        var unshare = new[] { "/usr/bin/unshare", "/bin/unshare" }.First(File.Exists);
        var stuck = new List<Socket>();
        var gate = new ServeProcess(conf, drainSeconds: 1, prefix: [unshare, "-m", "sh", "-c", Script, dir.Path], extra: []);
        try
        {
            await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
            for (var i = 0; i < Stuck; i++)
                stuck.Add(await ConnectAsync("127.0.0.2", port));
            // The gate is asking the stalled source: at least two threads wait in open(2) of the FIFO
            // (on a gate that asked on its loops, those would be the two loops of a 2-core machine).
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (WaitingOnFifo(gate.Id) < 2)
            {
                Assert.True(DateTime.UtcNow < deadline, "the gate never asked the netgroup source");
                await Task.Delay(50);
            }

            // Another client is accepted, decided and forwarded meanwhile.
            using (var other = await ConnectAsync("127.0.0.3", port))
            {
                await other.SendAsync("hello\n"u8.ToArray(), SocketFlags.None);
                var buffer = new byte[16];
                var n = await other.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
                Assert.Equal("hello\n", System.Text.Encoding.ASCII.GetString(buffer, 0, n));
            }

            // The source answers (an empty netgroup file): the stalled clients are decided, and refused.
            var refused = 0;
            for (var round = 0; round < 200 && refused < Stuck; round++)
            {
                Release(fifo);
                refused = 0;
                foreach (var s in stuck)
                    refused += s.Poll(0, SelectMode.SelectRead) ? 1 : 0;
                await Task.Delay(50);
            }
            Assert.Equal(Stuck, refused);
            foreach (var s in stuck)
                Assert.Equal(0, await ReceiveOrResetAsync(s));
        }
        finally
        {
            // The gate's threads may wait in open(2) again: let them go, then stop it by its pid.
            using var releasing = new CancellationTokenSource();
            var releaser = Task.Run(async () =>
            {
                while (!releasing.IsCancellationRequested)
                {
                    Release(fifo);
                    await Task.Delay(20);
                }
            });
            gate.Dispose();
            await releasing.CancelAsync();
            await releaser;
            foreach (var s in stuck)
                s.Dispose();
            await stop.CancelAsync();
            backend.Stop();
            await echo;
        }
        Assert.Contains("refused connect from 127.0.0.2", gate.Stderr, StringComparison.Ordinal);
        Assert.Contains("connect from 127.0.0.3", gate.Stderr, StringComparison.Ordinal);
    }

    private static async Task<Socket> ConnectAsync(string from, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(IPAddress.Loopback, port);
        return s;
    }

    private static async Task<int> ReceiveOrResetAsync(Socket s)
    {
        try
        {
            return await s.ReceiveAsync(new byte[16].AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed by the gate with nothing read: a refusal too.
            return 0;
        }
    }

    // Opens the write end and closes it at once: every reader that had opened the FIFO reads an empty file.
    private static void Release(string fifo)
    {
        using var w = new Microsoft.Win32.SafeHandles.SafeFileHandle(Loopback.OpenReadWrite(fifo), ownsHandle: true);
    }

    private static int WaitingOnFifo(int pid)
    {
        var n = 0;
        foreach (var task in new DirectoryInfo($"/proc/{pid}/task").GetDirectories())
        {
            try
            {
                // Threads of the gate's own (loops, thread pool), not the runtime's.
                if (File.ReadAllText(Path.Combine(task.FullName, "wchan")) == "wait_for_partner"
                    && !File.ReadAllText(Path.Combine(task.FullName, "comm")).StartsWith(".NET D", StringComparison.Ordinal))
                {
                    n++;
                }
            }
            catch (IOException)
            {
                // The thread ended while listed.
            }
        }
        return n;
    }

    private static async Task EchoAsync(TcpListener listener, CancellationToken ct)
    {
        var clients = new List<Task>();
        try
        {
            while (true)
            {
                var c = await listener.AcceptSocketAsync(ct);
                clients.Add(Task.Run(async () =>
                {
                    using (c)
                    {
                        var buffer = new byte[256];
                        int n;
                        while ((n = await c.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, ct)) > 0)
                            await c.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, ct);
                    }
                }, ct));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopped by the test.
        }
        try
        {
            await Task.WhenAll(clients);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Connections cut by the stop.
        }
    }
}
