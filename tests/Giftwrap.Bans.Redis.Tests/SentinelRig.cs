// A Redis Sentinel deployment on loopback, from Debian's redis-server and redis-sentinel: a
// primary, one replica and three sentinels on free ports, each with its config and data in one
// temporary folder. The primary can be killed (SIGKILL by pid) to force a failover; every
// process started is killed by pid when the rig is disposed, or at the latest when the test host exits.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Bans.Redis.Tests;

internal sealed class SentinelRig : IDisposable
{
    public const string Service = "giftwrap-test";
    private static readonly List<Process> Started = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-sentinel-").FullName;
    private readonly Dictionary<int, Process> _processes = [];

    static SentinelRig() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        lock (Started)
        {
            foreach (var p in Started)
                Kill(p);
        }
    };

    public SentinelRig()
    {
        PrimaryPort = FreePort();
        ReplicaPort = FreePort();
        SentinelPorts = [FreePort(), FreePort(), FreePort()];
        try
        {
            StartRedis(PrimaryPort);
            StartRedis(ReplicaPort, "--replicaof", "127.0.0.1", Text(PrimaryPort));
            foreach (var port in SentinelPorts)
                StartSentinel(port);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public int PrimaryPort { get; }

    public int ReplicaPort { get; }

    public IReadOnlyList<int> SentinelPorts { get; }

    /// <summary>The fleet's connection string: the sentinels and the service name (StackExchange.Redis asks them for the primary).</summary>
    public string ConnectionString =>
        string.Join(',', SentinelPorts.Select(p => $"127.0.0.1:{Text(p)}")) + $",serviceName={Service},connectTimeout=2000,syncTimeout=3000,asyncTimeout=3000";

    /// <summary>Waits until the replica follows the primary and every sentinel knows the replica and the two other sentinels.</summary>
    public void WaitUntilReady(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!(Command(ReplicaPort, "INFO", "replication").Contains("master_link_status:up", StringComparison.Ordinal)
                 && SentinelPorts.All(s => Field(Command(s, "SENTINEL", "MASTER", Service), "num-other-sentinels") == "2"
                                           && Field(Command(s, "SENTINEL", "MASTER", Service), "num-slaves") == "1")))
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("the sentinels did not see the replica and each other in time");
            Thread.Sleep(100);
        }
    }

    /// <summary>The port the sentinels name as the primary now (the first sentinel that answers).</summary>
    public int? CurrentPrimary()
    {
        foreach (var s in SentinelPorts)
        {
            try
            {
                var reply = Command(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", Service).Split('\n');
                if (reply.Length >= 2 && int.TryParse(reply[1], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
                    return port;
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                // This sentinel is not answering: ask the next.
            }
        }
        return null;
    }

    /// <summary>kill -9 of the primary, by pid.</summary>
    public void KillPrimary()
    {
        var p = _processes[PrimaryPort];
        Kill(p);
        p.WaitForExit(10_000);
    }

    public void Dispose()
    {
        foreach (var p in _processes.Values)
        {
            Kill(p);
            p.WaitForExit(10_000);
            p.Dispose();
        }
        _processes.Clear();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
    }

    private void StartRedis(int port, params string[] extra)
    {
        var data = Directory.CreateDirectory(Path.Combine(_dir, Text(port))).FullName;
        Start(RedisServer.Binary, port, ["--port", Text(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", data, "--protected-mode", "no", .. extra]);
    }

    // A sentinel rewrites its configuration file as it learns: each gets its own, in the rig's folder.
    private void StartSentinel(int port)
    {
        var conf = Path.Combine(_dir, $"sentinel-{Text(port)}.conf");
        File.WriteAllText(conf, $"""
            port {Text(port)}
            bind 127.0.0.1
            protected-mode no
            dir {_dir}
            sentinel monitor {Service} 127.0.0.1 {Text(PrimaryPort)} 2
            sentinel down-after-milliseconds {Service} 2000
            sentinel failover-timeout {Service} 10000
            sentinel parallel-syncs {Service} 1

            """);
        Start(Sentinel, port, [conf]);
    }

    private static string Sentinel =>
        new[] { "/usr/bin/redis-sentinel", "/usr/local/bin/redis-sentinel" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("redis-sentinel is not installed (apt-get install redis-sentinel)");

    private void Start(string binary, int port, string[] args)
    {
        var psi = new ProcessStartInfo(binary) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        lock (Started)
            Started.Add(p);
        _processes[port] = p;
        WaitUntilAnswering(port);
    }

    private static void Kill(Process p)
    {
        try
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static void WaitUntilAnswering(int port)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                if (Command(port, "PING") == "PONG")
                    return;
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"redis on port {port} did not answer", ex);
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>One command over RESP; the reply flattened to lines (arrays one element per line).</summary>
    public static string Command(int port, params string[] args)
    {
        using var c = new TcpClient();
        c.Connect(IPAddress.Loopback, port);
        c.ReceiveTimeout = 5000;
        var s = c.GetStream();
        var request = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
            request.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        s.Write(Encoding.UTF8.GetBytes(request.ToString()));
        using var reader = new StreamReader(s, Encoding.UTF8);
        var lines = new List<string>();
        Read(reader, lines);
        return string.Join('\n', lines);
    }

    private static void Read(StreamReader reader, List<string> lines)
    {
        var line = reader.ReadLine() ?? throw new IOException("connection closed");
        var count = line[0] is '*' or '$' ? int.Parse(line.AsSpan(1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture) : 0;
        switch (line[0])
        {
            case '*':
                for (var i = 0; i < count; i++)
                    Read(reader, lines);
                break;
            case '$':
                if (count < 0)
                    break;
                var buffer = new char[count + 2];
                var read = 0;
                while (read < buffer.Length)
                    read += reader.Read(buffer, read, buffer.Length - read) is var n and > 0 ? n : throw new IOException("connection closed");
                lines.Add(new string(buffer, 0, count));
                break;
            default:
                lines.Add(line[1..]);
                break;
        }
    }

    // SENTINEL MASTER answers name/value pairs, one per line here.
    private static string? Field(string flat, string name)
    {
        var f = flat.Split('\n');
        for (var i = 0; i + 1 < f.Length; i += 2)
        {
            if (f[i] == name)
                return f[i + 1];
        }
        return null;
    }

    private static string Text(int n) => n.ToString(CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
