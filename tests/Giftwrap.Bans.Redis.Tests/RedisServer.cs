// A real redis-server (Debian's package) started as a child process on a free loopback
// port, never the system one; killed (and restartable on the same port) by the tests.
// Every process started is killed when the test ends, or at the latest when the test host exits.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Bans.Redis.Tests;

internal sealed class RedisServer : IDisposable
{
    private static readonly List<Process> Started = [];
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-redis-").FullName;
    private Process? _process;

    static RedisServer() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        lock (Started)
        {
            foreach (var p in Started)
                Kill(p);
        }
    };

    public RedisServer()
    {
        Port = FreePort();
        Start();
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port},connectTimeout=2000,syncTimeout=3000,asyncTimeout=3000";

    public static string Binary =>
        new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("redis-server is not installed (apt-get install redis-server)");

    public void Start()
    {
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1",
                     "--save", "", "--appendonly", "no", "--dir", _dir, "--protected-mode", "no" })
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        lock (Started)
            Started.Add(p);
        _process = p;
        WaitUntilAnswering();
    }

    /// <summary>kill -9: Redis loses everything it held (no persistence).</summary>
    public void Kill()
    {
        if (_process is null)
            return;
        Kill(_process);
        _process.WaitForExit(10_000);
        _process.Dispose();
        _process = null;
    }

    /// <summary>Runs Debian's redis-cli against this server (to plant, publish or flush as an operator would) and returns its output.</summary>
    public string Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("/usr/bin/redis-cli")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture) }.Concat(args))
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"redis-cli {string.Join(' ', args)}: {p.StandardError.ReadToEnd()}");
        return output.Trim();
    }

    /// <summary>SIGSTOP: the server keeps its sockets open and answers nothing until <see cref="Resume"/>.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        using var kill = Process.Start("/bin/kill", [signal, _process!.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public void Dispose()
    {
        Kill(); // SIGKILL ends a paused server too
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is harmless.
        }
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

    private void WaitUntilAnswering()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var c = new TcpClient();
                c.Connect(IPAddress.Loopback, Port);
                var s = c.GetStream();
                s.Write("PING\r\n"u8);
                var buf = new byte[16];
                if (s.Read(buf) > 0 && buf[0] == (byte)'+')
                    return;
            }
            catch (SocketException)
            {
                // Not listening yet.
            }
            Thread.Sleep(50);
        }
        throw new TimeoutException($"redis-server did not answer on port {Port}");
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
