// UDP services behind a real `giftwrap serve`, as inetd serves `dgram udp wait` lines: a
// real TFTP server (Debian's tftpd-hpa in inetd mode) from an inetd.conf, fetched from with
// Debian's tftp client, and a [service:NAME] with listen = udp:... and exec. Clients play
// different hosts with 127.0.0.x source addresses. A refused datagram is read away by the
// gate: no program starts for it, and the program started for the next granted burst never
// sees it (it would answer the refused client).
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class UdpServiceTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);

    private static int FreeUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static Socket Client(string from)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        return s;
    }

    /// <summary>Lines of <paramref name="file"/> equal to <paramref name="word"/> (the wrappers write one per start and exit).</summary>
    private static int Count(string file, string word) =>
        File.Exists(file) ? File.ReadAllLines(file).Count(l => l == word) : 0;

    private static string Receive(Socket s)
    {
        var buffer = new byte[100];
        s.ReceiveTimeout = 60_000;
        return Encoding.ASCII.GetString(buffer, 0, s.Receive(buffer));
    }

    /// <summary>Debian's tftp client: one get, bounded in time, stopped by pid if it hangs.</summary>
    private static CliResult Tftp(string dir, int port, string remote, string local)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("tftp", ["-m", "binary", "127.0.0.1", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "get", remote, local])
        {
            WorkingDirectory = dir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            p.WaitForExit();
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    private static async Task UntilAsync(Func<bool> condition, string what)
    {
        for (var i = 0; i < 600 && !condition(); i++)
            await Task.Delay(100);
        Assert.True(condition(), $"not within 60 s: {what}");
    }

    [Fact]
    public async Task ServeInetd_TftpDgramWait_AllowedClientGetsTheFile_RefusedDatagramIsSunkAndStartsNothing()
    {
        using var dir = new TempDir();
        var d = dir.Path;
        var root = Path.Combine(d, "root");
        Directory.CreateDirectory(root);
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        var content = "served over tftp by in.tftpd behind giftwrap\n" + new string('x', 1500) + "\n";
        File.WriteAllText(Path.Combine(root, "hello.txt"), content);
        File.SetUnixFileMode(Path.Combine(root, "hello.txt"), (UnixFileMode)0b110_100_100);
        var starts = Path.Combine(d, "starts");
        // inetd's server field: a wrapper that counts the starts and exits of the real in.tftpd.
        var wrapper = dir.Write("tftpd-counted", $"#!/bin/sh\necho start >> {starts}\n/usr/sbin/in.tftpd \"$@\"\necho exit >> {starts}\n");
        File.SetUnixFileMode(wrapper, (UnixFileMode)0b111_101_101);
        var port = FreeUdpPort();
        // -t 1: in.tftpd waits one second for more requests, then exits and the gate watches again.
        var inetd = dir.Write("inetd.conf", $"{port}\tdgram\tudp\twait\troot\t{wrapper}\tin.tftpd -s {root} -t 1\n");
        dir.Write("hosts.allow", "in.tftpd: 127.0.0.1\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var conf = dir.Write("giftwrap.conf", $"[log]\nsyslog = off\n[tables]\nallow = {d}/hosts.allow\ndeny = {d}/hosts.deny\n");
        using var gate = new ServeProcess(conf, 1, "--inetd", inetd);
        await gate.WaitForAsync($"listening on udp:0.0.0.0:{port}", Within);

        // Refused: a read request from 127.0.0.2 is judged, logged and read away; no in.tftpd starts.
        using var refused = Client("127.0.0.2");
        var rrq = Encoding.ASCII.GetBytes("\0\u0001hello.txt\0octet\0");
        refused.SendTo(rrq, new IPEndPoint(IPAddress.Loopback, port));
        await gate.WaitForAsync("in.tftpd: refused connect from 127.0.0.2 (127.0.0.2)", Within);

        // Granted: Debian's tftp client (its source address is 127.0.0.1) gets the whole file.
        var got = Path.Combine(d, "got.txt");
        var tftp = Tftp(d, port, "hello.txt", got);
        Assert.True(tftp.ExitCode == 0, $"tftp: {tftp.Stdout}{tftp.Stderr}\ngate:\n{gate.Stderr}");
        Assert.Equal(content, File.ReadAllText(got));
        // The gate's stderr is read as it comes: the line may arrive after the client is done.
        await gate.WaitForAsync("in.tftpd: connect from 127.0.0.1 (127.0.0.1)", Within);
        await UntilAsync(() => Count(starts, "exit") == 1, "in.tftpd exits after its one-second wait");

        // Refused again once in.tftpd is gone: judged by the gate again, and still nothing starts.
        refused.SendTo(rrq, new IPEndPoint(IPAddress.Loopback, port));
        await gate.WaitForAsync("in.tftpd: refused connect from 127.0.0.2 (127.0.0.2)", Within, count: 2);
        Assert.Equal(1, Count(starts, "start"));
        // Neither refused request reached in.tftpd: it would have answered 127.0.0.2 with the file.
        Assert.Equal(0, refused.Available);
    }

    [Fact]
    public async Task Serve_ListenUdpWithExec_GrantedBurstRunsTheProgram_WhichGetsTheSocketUntilItExits_RefusedIsSunk()
    {
        using var dir = new TempDir();
        var d = dir.Path;
        var starts = Path.Combine(d, "starts");
        // The program reads every datagram on its stdin socket and answers each sender, as a wait
        // service does, until one says "bye".
        var echo = dir.Write("echo.py", $$"""
            #!/usr/bin/python3
            import os, socket
            with open("{{starts}}", "a") as f:
                f.write("start\n")
            s = socket.socket(fileno=0)
            while True:
                data, peer = s.recvfrom(65536)
                s.sendto(b"echo: " + data, peer)
                if data == b"bye":
                    break
            with open("{{starts}}", "a") as f:
                f.write("exit\n")
            """);
        File.SetUnixFileMode(echo, (UnixFileMode)0b111_101_101);
        var port = FreeUdpPort();
        dir.Write("hosts.allow", "echo: 127.0.0.1\n");
        dir.Write("hosts.deny", "echo: ALL\n");
        var conf = dir.Write("giftwrap.conf", $"[log]\nsyslog = off\n[tables]\nallow = {d}/hosts.allow\ndeny = {d}/hosts.deny\n[service:echo]\nlisten = udp:127.0.0.1:{port}\nexec = {echo}\n");
        using var gate = new ServeProcess(conf, 1);
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{port}", Within);
        var service = new IPEndPoint(IPAddress.Loopback, port);

        using var refused = Client("127.0.0.3");
        refused.SendTo("one"u8, service);
        await gate.WaitForAsync("echo: refused connect from 127.0.0.3 (127.0.0.3)", Within);

        using var allowed = Client("127.0.0.1");
        allowed.SendTo("two"u8, service);
        Assert.Equal("echo: two", Receive(allowed));
        await gate.WaitForAsync("echo: connect from 127.0.0.1 (127.0.0.1)", Within);
        // inetd's "wait": while the program runs, the gate does not look at the socket, and the
        // program reads whatever comes, here from a host the tables refuse.
        using var other = Client("127.0.0.4");
        other.SendTo("three"u8, service);
        Assert.Equal("echo: three", Receive(other));
        allowed.SendTo("bye"u8, service);
        Assert.Equal("echo: bye", Receive(allowed));
        await UntilAsync(() => Count(starts, "exit") == 1, "the program exits");
        // Once it has exited the gate watches again: the same host is judged, refused, and answered by no one.
        other.SendTo("four"u8, service);
        await gate.WaitForAsync("echo: refused connect from 127.0.0.4 (127.0.0.4)", Within);
        Assert.Equal(1, Count(starts, "start"));
        Assert.DoesNotContain("refused connect from 127.0.0.1", gate.Stderr, StringComparison.Ordinal);
        // The refused datagrams were read away: the program never answered them.
        Assert.Equal(0, refused.Available);
        Assert.Equal(0, other.Available);
    }

    [Fact]
    public async Task Serve_Sighup_MovesAUdpService_ClosesTheOldSocket_ServesOnTheNewOne()
    {
        using var dir = new TempDir();
        var once = dir.Write("once.py", "#!/usr/bin/python3\nimport socket\ns = socket.socket(fileno=0)\ndata, peer = s.recvfrom(100)\ns.sendto(b\"once: \" + data, peer)\n");
        File.SetUnixFileMode(once, (UnixFileMode)0b111_101_101);
        dir.Write("hosts.allow", "once: 127.0.0.1\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var (first, second) = (FreeUdpPort(), FreeUdpPort());
        string Conf(int port) => $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[service:once]\nlisten = udp:127.0.0.1:{port}\nexec = {once}\n";
        var conf = dir.Write("giftwrap.conf", Conf(first));
        using var gate = new ServeProcess(conf, 1);
        await gate.WaitForAsync($"listening on udp:127.0.0.1:{first}", Within);
        using var client = Client("127.0.0.1");
        client.SendTo("a"u8, new IPEndPoint(IPAddress.Loopback, first));
        Assert.Equal("once: a", Receive(client));

        File.WriteAllText(conf, Conf(second));
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync($"configuration reloaded; listening on udp:127.0.0.1:{second}", Within);
        client.SendTo("b"u8, new IPEndPoint(IPAddress.Loopback, second));
        Assert.Equal("once: b", Receive(client));
        // The old address is the gate's no more: it can be bound again.
        await UntilAsync(() =>
        {
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                s.Bind(new IPEndPoint(IPAddress.Loopback, first));
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
        }, "the old UDP socket is closed");
    }

    [Fact]
    public void Serve_UdpAddressInUse_FailsToStart_NamingTheAddressAndTheLine()
    {
        using var dir = new TempDir();
        using var holder = Client("127.0.0.1");
        var port = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var conf = dir.Write("giftwrap.conf", $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/a\ndeny = {dir.Path}/d\n[service:echo]\nlisten = udp:127.0.0.1:{port}\nexec = /bin/cat\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{conf}:7:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"cannot listen on udp:127.0.0.1:{port} (service echo): the address is already in use", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void CheckConfig_ListenUdpWithForward_IsAnErrorNamingTheLine()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/a\ndeny = {dir.Path}/d\n[service:dns]\nlisten = udp:127.0.0.1:5353\nforward = 127.0.0.1:53\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, r.ExitCode);
        Assert.Contains($"{conf}:7:", r.Stderr, StringComparison.Ordinal);
        Assert.Contains("a UDP service needs exec = program", r.Stderr, StringComparison.Ordinal);
    }
}
