// Passed sockets (systemd socket activation, through Activation) across reloads of a real
// `giftwrap serve`: a socket a reload lets go is taken again by the very next reload however
// slowly its old listener stops, and one taken by FileDescriptorName= stays its service's.
// The test holds its copy of every passed socket, as systemd does: a bind of the gate's own fails.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class SocketActivationReloadTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

    private static int Port(Socket s) => SocketActivationTests.Port(s);

    /// <summary>A UDP port of 127.0.0.1 that was free when asked (its socket closed again).</summary>
    private static int FreeUdpPort()
    {
        using var free = SocketActivationTests.Datagram();
        return Port(free);
    }

    /// <summary>Sends SIGHUP and waits for the <paramref name="count"/>th reload to be taken or refused; which, as the log says.</summary>
    private static async Task<bool> ReloadAsync(ServeProcess gate, int count)
    {
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        var taken = gate.WaitForAsync("configuration reloaded", Within, count);
        var refused = gate.WaitForAsync("reload refused", Within);
        await Task.WhenAny(taken, refused).WaitAsync(Within);
        return taken.IsCompletedSuccessfully;
    }

    /// <summary>Waits for the <paramref name="count"/>th line with <paramref name="what"/> and checks that it names both UDP ports (in either order).</summary>
    private static async Task ListeningOnBothAsync(ServeProcess gate, string what, int port, int other, int count = 1)
    {
        await gate.WaitForAsync(what, Within, count);
        var line = gate.Stderr.Split('\n').Where(l => l.Contains(what, StringComparison.Ordinal)).ElementAt(count - 1);
        Assert.Contains($"udp:127.0.0.1:{port}", line, StringComparison.Ordinal);
        Assert.Contains($"udp:127.0.0.1:{other}", line, StringComparison.Ordinal);
    }

    private static async Task EchoedAsync(Socket passed, string text)
    {
        using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await c.ConnectAsync((IPEndPoint)passed.LocalEndPoint!);
        await c.SendAsync(Encoding.ASCII.GetBytes(text), SocketFlags.None);
        Assert.Equal(text, SocketActivationTests.Receive(c));
    }

    [Fact]
    public async Task Serve_ReloadDropsAPassedTcpAddressWhileItsListenerStillStops_TheNextReloadTakesTheSocketAgain()
    {
        using var dir = new TempDir();
        using var tcp = SocketActivationTests.Stream();
        var other = Loopback.FreePort();
        var tables = SocketActivationTests.Tables(dir);
        string Conf(int port) => tables + $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n";
        var conf = dir.Write("giftwrap.conf", Conf(Port(tcp)));
        using var gate = Activation.Serve(conf, (tcp, "cat"));
        await gate.WaitForAsync($"listening on 127.0.0.1:{Port(tcp)}", Within);
        await EchoedAsync(tcp, "before\n");

        bool back;
        // A listener stops once every relay loop has let go of its socket; held after each wake-up,
        // the loops make that stop last seconds, past the next reload.
        using (await SlowLoops.HoldAsync(gate.Id))
        {
            File.WriteAllText(conf, Conf(other));
            Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
            File.WriteAllText(conf, Conf(Port(tcp)));
            back = await ReloadAsync(gate, 2);
        }
        Assert.True(back, gate.Stderr);
        Assert.Contains($"configuration reloaded; listening on 127.0.0.1:{Port(tcp)}", gate.Stderr, StringComparison.Ordinal);
        await EchoedAsync(tcp, "back\n");
        // The passed socket, never closed, and no bind of the gate's own.
        Assert.Contains(Activation.Inode(tcp), Activation.Sockets(gate.Id).Values);
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("in use", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ReloadDropsAPassedUdpAddressWhileItsBurstIsStillJudged_TheNextReloadTakesTheSocketAgain()
    {
        using var dir = new TempDir();
        using var udp = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = SocketActivationTests.Tables(dir);
        string Conf(int port) => tables + SocketActivationTests.OnceService(dir, $"udp:127.0.0.1:{port}");
        var conf = dir.Write("giftwrap.conf", Conf(Port(udp)));
        using var gate = Activation.Serve(conf, (udp, "once"));
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{Port(udp)}", Within);

        await JudgingHeldAsync(dir, udp.LocalEndPoint!);
        File.WriteAllText(conf, Conf(other));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        File.WriteAllText(conf, Conf(Port(udp)));
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);
        Assert.Contains($"configuration reloaded; listening on udp:127.0.0.1:{Port(udp)}", gate.Stderr, StringComparison.Ordinal);

        // The burst the old listener was judging is refused (and read away) before the new one watches.
        await gate.WaitForAsync("once: refused connect from 127.0.0.3 (127.0.0.3)", Within);
        using var client = SocketActivationTests.Datagram();
        client.SendTo("back"u8, udp.LocalEndPoint!);
        Assert.Equal("once: back", SocketActivationTests.Receive(client));
        Assert.Contains(Activation.Inode(udp), Activation.Sockets(gate.Id).Values);
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
        // Judged once: the new listener did not watch the socket before the old one had read the burst away.
        Assert.Equal(2, gate.Stderr.Split("refused connect from 127.0.0.3").Length);
    }

    /// <summary>
    /// A burst from 127.0.0.3 (refused) sent to <paramref name="udp"/> and held in its judging: a burst
    /// is judged on the service's own loop, which compiles a changed table first and cannot be stopped
    /// half way; a table of many lines holds the loop, and its stop, for seconds. Returns once the
    /// gate has read the table (the compile is under way).
    /// </summary>
    private static async Task JudgingHeldAsync(TempDir dir, EndPoint udp)
    {
        var allow = Path.Combine(dir.Path, "hosts.allow");
        var big = new StringBuilder(File.ReadAllText(allow));
        for (var i = 0; i < 600_000; i++)
            big.Append("filler").Append(i).Append(": 10.").Append(i >> 16).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255).Append('\n');
        File.WriteAllText(allow, big.ToString());
        using var read = FileReads.Watch(allow);
        using var refused = SocketActivationTests.Datagram("127.0.0.3");
        refused.SendTo("no"u8, udp);
        await read.WaitAsync(Within);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Serve_StopWhileTheListenerAReloadLetGoStillJudges_ClosesThePassedUdpSocketOnlyAfterIt(bool droppedAgain)
    {
        using var dir = new TempDir();
        using var udp = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = SocketActivationTests.Tables(dir);
        string Conf(int port) => tables + SocketActivationTests.OnceService(dir, $"udp:127.0.0.1:{port}");
        var conf = dir.Write("giftwrap.conf", Conf(Port(udp)));
        using var gate = Activation.Serve(conf, (udp, "once"));
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{Port(udp)}", Within);

        // Let go while its listener judges, brought back (the new listener waits for that one), and
        // let go again, stopping the listener between before it watched: the socket is then the
        // new listener's at the stop, or kept unused; either way the listener that judges still uses it.
        await JudgingHeldAsync(dir, udp.LocalEndPoint!);
        File.WriteAllText(conf, Conf(other));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        File.WriteAllText(conf, Conf(Port(udp)));
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);
        if (droppedAgain)
        {
            // Another address than the first reload's: the gate's own socket there may still be closing.
            File.WriteAllText(conf, Conf(FreeUdpPort()));
            Assert.True(await ReloadAsync(gate, 3), gate.Stderr);
        }

        // The stop closes the gate's descriptor only once that listener is done with it: the burst
        // was judged and read away (from the queue this copy shares), not left to a closed descriptor.
        Stops(gate);
        Assert.Equal(0, udp.Available);
        Assert.Contains("once: refused connect from 127.0.0.3 (127.0.0.3)", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_SocketTakenByName_ListedByAddressThenNoMore_StaysItsServicesByName()
    {
        using var dir = new TempDir();
        // Bound to no address the configuration lists at start: taken by its name.
        using var named = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = SocketActivationTests.Tables(dir);
        string Conf(string listen) => tables + SocketActivationTests.OnceService(dir, listen);
        var conf = dir.Write("giftwrap.conf", Conf($"udp:127.0.0.1:{other}"));
        using var gate = Activation.Serve(conf, (named, "once"));
        await ListeningOnBothAsync(gate, "listening on", other, Port(named));

        // Its address listed, then no more: the service still has it by name, as a start would.
        File.WriteAllText(conf, Conf($"udp:127.0.0.1:{other}, udp:127.0.0.1:{Port(named)}"));
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        File.WriteAllText(conf, Conf($"udp:127.0.0.1:{other}"));
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);
        await ListeningOnBothAsync(gate, "configuration reloaded", other, Port(named), count: 2);
        using var client = SocketActivationTests.Datagram();
        client.SendTo("named"u8, named.LocalEndPoint!);
        Assert.Equal("once: named", SocketActivationTests.Receive(client));
        Assert.DoesNotContain("kept open", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ReloadThatMakesTheServiceOfANamedDatagramSocketTcp_IsRefused_NamingTheDescriptor_AndTheSocketServesOn()
    {
        using var dir = new TempDir();
        using var named = SocketActivationTests.Datagram();
        var other = FreeUdpPort();
        var tables = SocketActivationTests.Tables(dir);
        var conf = dir.Write("giftwrap.conf", tables + SocketActivationTests.OnceService(dir, $"udp:127.0.0.1:{other}"));
        using var gate = Activation.Serve(conf, (named, "once"));
        await ListeningOnBothAsync(gate, "listening on", other, Port(named));

        // As at start with this configuration: a datagram socket named for a TCP service is an error.
        File.WriteAllText(conf, tables + $"[service:once]\nlisten = 127.0.0.1:{Loopback.FreePort()}\nexec = /bin/cat\n");
        Assert.False(await ReloadAsync(gate, 1), gate.Stderr);
        Assert.Contains(
            $"error: reload refused, keeping the running configuration: cannot listen on udp:127.0.0.1:{Port(named)}: systemd passed descriptor 3 (once) " +
            $"bound to 127.0.0.1:{Port(named)}, a UDP (datagram) socket, for [service:once] (its FileDescriptorName=); a TCP service needs ListenStream= in the .socket unit",
            gate.Stderr, StringComparison.Ordinal);
        using var client = SocketActivationTests.Datagram();
        client.SendTo("still"u8, named.LocalEndPoint!);
        Assert.Equal("once: still", SocketActivationTests.Receive(client));
    }

    [Fact]
    public async Task Serve_SocketTakenByName_ItsInetdServiceRemovedThenBack_IsTakenByNameAgain()
    {
        Assert.Equal("root", Environment.UserName);
        using var dir = new TempDir();
        using var named = SocketActivationTests.Datagram();
        var tables = SocketActivationTests.Tables(dir);
        var conf = dir.Write("giftwrap.conf", tables);
        // inetd.conf services listen on every address: the gate runs in a network namespace of its
        // own (unshare -n), where nothing reaches them. The passed socket is the test's, on its loopback.
        var kept = $"7001 dgram udp wait root {dir.Path}/once.py once\n";
        var service = $"7002 dgram udp wait root {dir.Path}/once.py once\n";
        var inetd = dir.Write("inetd.conf", kept + service);
        using var gate = Activation.Serve(conf, ["unshare", "-n"], ["--inetd", inetd], (named, "7002/udp"));
        await gate.WaitForAsync("listening on", Within);
        Assert.Contains($"udp:127.0.0.1:{Port(named)}", gate.Stderr, StringComparison.Ordinal);
        using var client = SocketActivationTests.Datagram();
        client.SendTo("1"u8, named.LocalEndPoint!);
        Assert.Equal("once: 1", SocketActivationTests.Receive(client));

        // The service goes: its socket is kept open. It comes back: taken by its name again, as at start.
        File.WriteAllText(inetd, kept);
        Assert.True(await ReloadAsync(gate, 1), gate.Stderr);
        await gate.WaitForAsync($"activated socket udp:127.0.0.1:{Port(named)} is listed no more: kept open", Within);
        File.WriteAllText(inetd, kept + service);
        Assert.True(await ReloadAsync(gate, 2), gate.Stderr);
        var line = gate.Stderr.Split('\n').Last(l => l.Contains("configuration reloaded", StringComparison.Ordinal));
        Assert.Contains($"udp:127.0.0.1:{Port(named)}", line, StringComparison.Ordinal);
        client.SendTo("2"u8, named.LocalEndPoint!);
        Assert.Equal("once: 2", SocketActivationTests.Receive(client));
        Assert.Contains(Activation.Inode(named), Activation.Sockets(gate.Id).Values);
        Assert.DoesNotContain("cannot listen", gate.Stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// The gate's relay loops held for a few seconds after every wake-up (strace delays the return of
    /// their epoll_wait), until disposed; strace is stopped by its pid and detaches.
    /// </summary>
    private sealed class SlowLoops : IDisposable
    {
        private readonly Process _strace;

        private SlowLoops(Process strace) => _strace = strace;

        public static async Task<SlowLoops> HoldAsync(int pid)
        {
            Assert.True(File.Exists("/usr/bin/strace"), "strace (Debian package strace) is needed");
            // Thread names are cut at 15 characters: "giftwrap relay N" is "giftwrap relay ".
            var loops = new DirectoryInfo($"/proc/{pid}/task").EnumerateDirectories()
                .Where(t => File.ReadAllText(Path.Combine(t.FullName, "comm")).StartsWith("giftwrap relay", StringComparison.Ordinal))
                .Select(t => t.Name).ToList();
            Assert.NotEmpty(loops);
            var args = new List<string> { "-o", "/dev/null", "-e", "trace=epoll_wait,epoll_pwait", "-e", "inject=epoll_wait,epoll_pwait:delay_exit=4000000" };
            foreach (var tid in loops)
                args.AddRange(["-p", tid]);
            var strace = Process.Start(new ProcessStartInfo("/usr/bin/strace", args) { RedirectStandardError = true })!;
            var slow = new SlowLoops(strace);
            try
            {
                // "strace: Process N attached", once per loop.
                for (var attached = 0; attached < loops.Count;)
                {
                    var line = await strace.StandardError.ReadLineAsync().WaitAsync(Within)
                        ?? throw new InvalidOperationException("strace ended before it attached");
                    if (line.Contains("attached", StringComparison.Ordinal))
                        attached++;
                }
            }
            catch
            {
                slow.Dispose();
                throw;
            }
            return slow;
        }

        public void Dispose()
        {
            Loopback.Signal(_strace.Id, 15);
            if (!_strace.WaitForExit(30_000))
                _strace.Kill();
            _strace.WaitForExit();
            _strace.Dispose();
        }
    }

    /// <summary>An inotify watch for a read of one file to its end (IN_CLOSE_NOWRITE).</summary>
    private sealed partial class FileReads : IDisposable
    {
        private const int InNonBlock = 0x800;
        private const int InCloexec = 0x80000;
        private const uint InCloseNoWrite = 0x10;
        private readonly int _fd;

        private FileReads(int fd) => _fd = fd;

        public static FileReads Watch(string path)
        {
            var fd = inotify_init1(InNonBlock | InCloexec);
            Assert.True(fd >= 0, Marshal.GetLastPInvokeErrorMessage());
            var reads = new FileReads(fd);
            Assert.True(inotify_add_watch(fd, path, InCloseNoWrite) >= 0, Marshal.GetLastPInvokeErrorMessage());
            return reads;
        }

        /// <summary>Waits (polling, bounded) until the file was opened for reading and closed.</summary>
        public async Task WaitAsync(TimeSpan within)
        {
            var until = Stopwatch.StartNew();
            var buffer = new byte[4096];
            while (Read(buffer) <= 0)
            {
                if (until.Elapsed > within)
                    throw new TimeoutException("the file was not read");
                await Task.Delay(10);
            }
        }

        private int Read(byte[] buffer) => (int)read(_fd, ref buffer[0], buffer.Length);

        public void Dispose() => close(_fd);

        [LibraryImport("libc", SetLastError = true)]
        private static partial int inotify_init1(int flags);

        [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        private static partial int inotify_add_watch(int fd, string path, uint mask);

        [LibraryImport("libc", SetLastError = true)]
        private static partial nint read(int fd, ref byte buffer, nint count);

        [LibraryImport("libc")]
        private static partial int close(int fd);
    }
}
