// One connection handed to a tcpd as inetd hands it (the accepted socket on descriptors 0, 1 and 2,
// the daemon's path as argv[0]), inside a private mount namespace whose /etc/hosts, hosts.allow,
// hosts.deny and resolv.conf are the run's own files and whose /dev/log is the run's datagram
// socket. Records what the client received, the syslog lines with their priorities, what spawned
// commands wrote and the tcpd's exit status. The machine's own /etc and /dev are never touched.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Giftwrap.Cli.Tests;

/// <summary>What one run showed; <see cref="ToString"/> is the transcript compared between tcpds.</summary>
public sealed record Transcript(string Received, bool Reset, IReadOnlyList<string> Syslog, string Spawned, int ExitStatus)
{
    /// <summary>The syslog datagrams as they came (not compared: times and pids differ).</summary>
    public IReadOnlyList<string> Datagrams { get; init; } = [];

    /// <summary>From the first syslog line to the client's end of the connection (not compared).</summary>
    public TimeSpan LogToClose { get; init; }

    /// <summary>For a datagram service: the datagrams still queued on the socket when the tcpd exited (0 when it sank the one it was started for).</summary>
    public int? Left { get; init; }

    public override string ToString() =>
        $"received: \"{Escape(Received)}\"{(Reset ? " (reset)" : "")}\nsyslog:\n{string.Concat(Syslog.Select(l => $"  {Escape(l)}\n"))}spawned: \"{Escape(Spawned)}\"\nexit: {ExitStatus}\n"
        + (Left is { } left ? $"left queued: {left}\n" : "");

    public static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (var c in s)
        {
            sb.Append(c switch
            {
                '\r' => "\\r",
                '\n' => "\\n",
                '\\' => "\\\\",
                < ' ' or > '~' => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }
}

/// <summary>The tables and files one run sees. DIR in any text stands for the run's directory.</summary>
public sealed record InetdCase(string Name, string Allow, string Deny, string Client = "127.0.0.1")
{
    /// <summary>The banner file DIR/banners/svc, or null for none.</summary>
    public byte[]? Banner { get; init; }
    /// <summary>The daemon as argv[0]: DIR/svc, the test daemon, unless another path is wanted.</summary>
    public string Daemon { get; init; } = "DIR/svc";
    /// <summary>A `dgram udp wait` service: the tcpd gets the bound UDP socket with one datagram queued.</summary>
    public bool Datagram { get; init; }
    /// <summary>Lines added to the run's /etc/hosts (written as Latin-1).</summary>
    public string ExtraHosts { get; init; } = "";
    /// <summary>The address the stream service listens on: 127.0.0.1, ::1, or :: (v4 clients then arrive as ::ffff:a.b.c.d).</summary>
    public string Listen { get; init; } = "127.0.0.1";
    /// <summary>More files under DIR (relative path, content); a null content makes a directory.</summary>
    public IReadOnlyDictionary<string, byte[]?> Files { get; init; } = new Dictionary<string, byte[]?>();
}

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public static partial class InetdOnce
{
    /// <summary>The /etc/hosts of every run: names for the loopback addresses the clients use (written as Latin-1:
    /// 127.0.0.6's name holds the byte 0xE9, which libwrap keeps and syslog(3) sends as it is).</summary>
    public const string Hosts = "127.0.0.1\tlocalhost\n127.0.0.2\talpha.test alpha\n127.0.0.3\tbeta.test\n127.0.0.5\tserver.test\n127.0.0.6\tcaf\u00e9.test\n";

    // The daemon the tcpds run: prints what it was given (identity, umask, nice, socket options, environment);
    // on a datagram socket it reads the datagram and answers its sender.
    private const string Daemon = """
        #!/usr/bin/python3
        import os, socket, struct, sys
        s = socket.socket(fileno=os.dup(0))
        peer = s.recvfrom(65536)[1] if s.type == socket.SOCK_DGRAM else None
        keepalive = s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        onoff, secs = struct.unpack("ii", s.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
        mask = os.umask(0)
        env = "".join(f"  {k}={v}\n" for k, v in sorted(os.environ.items()))
        out = (f"served argv={sys.argv[1:]} uid={os.getuid()} gid={os.getgid()} umask={mask:03o} nice={os.nice(0)} "
               f"keepalive={keepalive} linger={onoff},{secs}\n{env}")
        if peer is None:
            os.write(1, out.encode())
        else:
            s.sendto(out.encode(), peer)
        """;

    // inetd for one connection: listen, say the port, accept, put the socket on 0, 1 and 2, exec.
    // A umask of 077 shows whether the tcpd sets its own (tcpd.c: umask(022)).
    private const string Launcher = """
        import os, signal, socket, sys
        portfile, listen, argv0, path = sys.argv[1:5]
        ls = socket.socket(socket.AF_INET6 if ":" in listen else socket.AF_INET)
        if ":" in listen:
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        ls.bind((listen, 0))
        ls.listen(1)
        with open(portfile + ".new", "w") as f:
            f.write(str(ls.getsockname()[1]))
        os.rename(portfile + ".new", portfile)
        c, _ = ls.accept()
        ls.close()
        for fd in (0, 1, 2):
            os.dup2(c.fileno(), fd)
        c.close()
        os.umask(0o077)
        # A known signal state to pass on (the test host's threads differ): SIGUSR2 blocked, SIGUSR1
        # ignored, the rest at their defaults (Python's own SIGPIPE and SIGXFSZ ignores undone, as inetd does).
        signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGUSR2})
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        os.execv(path, [argv0] + sys.argv[5:])
        """;

    // inetd for one datagram service: bind, say the port, wait until a datagram is queued, start the
    // tcpd with the socket on 0, 1 and 2 and wait for it (the socket stays open here, as in inetd), then
    // count the datagrams still queued: a refusal that did not sink its datagram leaves one. The tcpd's
    // signal state is the stream launcher's.
    private const string DatagramLauncher = """
        import os, select, signal, socket, sys
        portfile, _, argv0, path = sys.argv[1:5]
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        with open(portfile + ".new", "w") as f:
            f.write(str(s.getsockname()[1]))
        os.rename(portfile + ".new", portfile)
        select.select([s], [], [], 60)
        pid = os.fork()
        if pid == 0:
            for fd in (0, 1, 2):
                os.dup2(s.fileno(), fd)
            s.close()
            os.umask(0o077)
            signal.pthread_sigmask(signal.SIG_SETMASK, {signal.SIGUSR2})
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
            os.execv(path, [argv0] + sys.argv[5:])
        status = os.waitpid(pid, 0)[1]
        s.setblocking(False)
        left = 0
        while True:
            try:
                s.recv(65536)
                left += 1
            except BlockingIOError:
                break
        with open(portfile + ".left", "w") as f:
            f.write(str(left))
        sys.exit(os.waitstatus_to_exitcode(status) & 255)
        """;

    // Inside the namespace: the run's /etc files, and a /dev of its own (the real nodes bound in)
    // with /dev/log pointing at the run's collector.
    private const string Setup = """
        set -e
        D="$1"; shift
        for f in hosts hosts.allow hosts.deny resolv.conf; do mount --bind "$D/etc/$f" "/etc/$f"; done
        mkdir -p "$D/realdev"
        mount --rbind /dev "$D/realdev"
        mount -t tmpfs -o mode=755 tmpfs /dev
        for n in null zero full random urandom tty; do touch "/dev/$n"; mount --bind "$D/realdev/$n" "/dev/$n"; done
        mkdir /dev/shm /dev/pts
        mount --rbind "$D/realdev/shm" /dev/shm
        ln -s /proc/self/fd /dev/fd
        ln -s "$D/log" /dev/log
        exec /usr/bin/python3 "$D/launch.py" "$@"
        """;

    /// <summary>
    /// Runs <paramref name="tcpd"/> (its argv before the daemon) for one connection of <paramref name="c"/>.
    /// <paramref name="daemonAsArgv0"/>: the daemon path is argv[0] (tcpd's way); otherwise it is the first argument.
    /// </summary>
    public static async Task<Transcript> RunAsync(InetdCase c, string[] tcpd, bool daemonAsArgv0)
    {
        using var dir = new TempDir();
        var d = dir.Path;
        Prepare(c, d);
        using var log = SyslogListener.Bind(Path.Combine(d, "log"));
        var daemon = c.Daemon.Replace("DIR", d, StringComparison.Ordinal);
        string[] launch = daemonAsArgv0
            ? [Path.Combine(d, "port"), c.Listen, daemon, tcpd[0], .. tcpd[1..]]
            : [Path.Combine(d, "port"), c.Listen, tcpd[0], tcpd[0], .. tcpd[1..], daemon];
        var psi = new ProcessStartInfo("unshare", ["--mount", "--propagation", "private", "--fork", "--kill-child", "sh", "-c", Setup, "setup", d, .. launch])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        try
        {
            var port = await PortAsync(Path.Combine(d, "port"), p, stderr);
            // Peeks only: the datagrams stay queued for Drain.
            var firstLog = Task.Run(() => log.Poll(TimeSpan.FromSeconds(60), SelectMode.SelectRead) ? Stopwatch.GetTimestamp() : long.MaxValue);
            using var datagramClient = c.Datagram ? SendDatagram(c.Client, port) : null;
            var (received, reset) = c.Datagram ? ("", false) : await AskAsync(c.Client, c.Listen, port);
            var closed = Stopwatch.GetTimestamp();
            var logged = await firstLog;
            if (!p.WaitForExit(60_000))
                throw new TimeoutException($"{c.Name}: {tcpd[0]} did not exit within 60 s of the client's end");
            int? left = null;
            if (datagramClient is not null)
            {
                // The daemon answered (or not) before the tcpd's process ended: every answer is queued now.
                received = string.Concat(Drain(datagramClient));
                left = int.Parse(await File.ReadAllTextAsync(Path.Combine(d, "port.left")), System.Globalization.CultureInfo.InvariantCulture);
            }
            var datagrams = Drain(log);
            var lines = datagrams.Select(l => Normalise(l, d)).ToList();
            var spawned = File.Exists(Path.Combine(d, "spawned")) ? File.ReadAllText(Path.Combine(d, "spawned"), Encoding.Latin1) : "";
            return new Transcript(Mask(received, d), reset, lines, Mask(spawned, d), p.ExitCode)
            {
                Datagrams = datagrams,
                LogToClose = logged < closed ? Stopwatch.GetElapsedTime(logged, closed) : TimeSpan.Zero,
                Left = left,
            };
        }
        finally
        {
            if (!p.HasExited)
            {
                p.Kill(entireProcessTree: true);
                p.WaitForExit(30_000);
            }
        }
    }

    private static void Prepare(InetdCase c, string d)
    {
        // A temporary directory is the owner's only: the daemon may run as nobody (the user option).
        File.SetUnixFileMode(d, (UnixFileMode)0b111_101_101);
        Directory.CreateDirectory(Path.Combine(d, "etc"));
        File.WriteAllText(Path.Combine(d, "etc", "hosts"), Hosts + c.ExtraHosts.Replace("DIR", d, StringComparison.Ordinal), Encoding.Latin1);
        File.WriteAllText(Path.Combine(d, "etc", "hosts.allow"), c.Allow.Replace("DIR", d, StringComparison.Ordinal), Encoding.Latin1);
        File.WriteAllText(Path.Combine(d, "etc", "hosts.deny"), c.Deny.Replace("DIR", d, StringComparison.Ordinal), Encoding.Latin1);
        // Nothing listens on loopback port 53: a name not in /etc/hosts fails at once, never on the network.
        File.WriteAllText(Path.Combine(d, "etc", "resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
        File.WriteAllText(Path.Combine(d, "launch.py"), c.Datagram ? DatagramLauncher : Launcher);
        WriteExecutable(Path.Combine(d, "svc"), Encoding.UTF8.GetBytes(Daemon));
        Directory.CreateDirectory(Path.Combine(d, "banners"));
        if (c.Banner is { } banner)
            File.WriteAllBytes(Path.Combine(d, "banners", "svc"), banner);
        File.WriteAllText(Path.Combine(d, "spawned"), "");
        foreach (var (name, content) in c.Files)
        {
            var path = Path.Combine(d, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            if (content is null)
            {
                Directory.CreateDirectory(path);
                continue;
            }
            WriteExecutable(path, content);
        }
    }

    /// <summary>
    /// Puts an executable in place with cp, not by writing it here: a program another test starts while this
    /// process holds the file open for writing inherits that descriptor until its exec, and exec'ing the file
    /// then fails with "Text file busy" (seen once as tcpd's "cannot execute DIR/state").
    /// </summary>
    private static void WriteExecutable(string path, byte[] content)
    {
        var staged = path + ".staged";
        File.WriteAllBytes(staged, content);
        using (var cp = Process.Start("cp", [staged, path]))
            cp.WaitForExit();
        File.Delete(staged);
        File.SetUnixFileMode(path, (UnixFileMode)0b111_101_101);
    }

    /// <summary>The run's directory as DIR, and socket and pipe inode numbers (which differ between runs) as N.</summary>
    private static string Mask(string text, string dir) =>
        SocketInode().Replace(text.Replace(dir, "DIR", StringComparison.Ordinal), "N");

    private static async Task<int> PortAsync(string file, Process p, Task<string> stderr)
    {
        for (var i = 0; i < 1200; i++)
        {
            if (File.Exists(file))
                return int.Parse(await File.ReadAllTextAsync(file), System.Globalization.CultureInfo.InvariantCulture);
            if (p.HasExited)
                throw new InvalidOperationException($"the launcher exited ({p.ExitCode}) before listening: {await stderr}");
            await Task.Delay(50);
        }
        throw new TimeoutException("the launcher did not listen within 60 s");
    }

    /// <summary>Connects from <paramref name="from"/>, sends nothing, reads until the tcpd side closes.</summary>
    private static async Task<(string Text, bool Reset)> AskAsync(string from, string listen, int port)
    {
        var source = IPAddress.Parse(from);
        using var s = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(source, 0));
        var server = source.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Loopback
            : listen.Contains(':', StringComparison.Ordinal) ? IPAddress.Loopback : IPAddress.Parse(listen);
        await s.ConnectAsync(new IPEndPoint(server, port));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var bytes = new List<byte>();
        var buf = new byte[65536];
        try
        {
            int n;
            while ((n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
                bytes.AddRange(buf.AsSpan(0, n));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return (Encoding.Latin1.GetString([.. bytes]), true);
        }
        return (Encoding.Latin1.GetString([.. bytes]), false);
    }

    /// <summary>Sends one datagram from <paramref name="from"/>; the socket is kept for the answers.</summary>
    private static Socket SendDatagram(string from, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        s.SendTo("hello\n"u8, new IPEndPoint(IPAddress.Loopback, port));
        return s;
    }

    /// <summary>Every datagram already queued: the tcpd logged before the client saw its end, so all are here.</summary>
    private static List<string> Drain(Socket log)
    {
        var lines = new List<string>();
        var buf = new byte[65536];
        while (log.Available > 0)
        {
            var n = log.Receive(buf);
            lines.Add(Encoding.Latin1.GetString(buf, 0, n));
        }
        return lines;
    }

    /// <summary>"&lt;PRI&gt;Mmm dd hh:mm:ss TAG[PID]: MSG" as "facility.level TAG: MSG", the pids and the run's directory masked.</summary>
    internal static string Normalise(string datagram, string dir)
    {
        var m = SyslogLine().Match(datagram);
        if (!m.Success)
            return $"? {datagram}";
        var pri = int.Parse(m.Groups["pri"].Value, System.Globalization.CultureInfo.InvariantCulture);
        var msg = ProcessId().Replace(m.Groups["msg"].Value, "process PID").Replace(dir, "DIR", StringComparison.Ordinal);
        return $"{Facilities[pri >> 3]}.{Levels[pri & 7]} {m.Groups["tag"].Value}: {msg}";
    }

    private static readonly string[] Facilities = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "12", "13", "14", "15", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"];
    private static readonly string[] Levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

    [GeneratedRegex(@"^<(?<pri>\d+)>\w{3} [ \d]\d \d\d:\d\d:\d\d (?<tag>[^\[:]*)(?:\[\d+\])?: (?<msg>.*)$", RegexOptions.Singleline)]
    private static partial Regex SyslogLine();

    [GeneratedRegex(@"(?<=(socket|pipe):\[)\d+(?=\])")]
    private static partial Regex SocketInode();

    [GeneratedRegex(@"process \d+")]
    private static partial Regex ProcessId();
}
