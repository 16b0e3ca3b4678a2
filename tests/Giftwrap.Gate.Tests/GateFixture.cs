// A gate on loopback for one test: its own tables, configuration, syslog socket and
// backend, torn down afterwards. Clients connect from 127.0.0.x to play hosts.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Listening;
using Giftwrap.Gate.Logging;

namespace Giftwrap.Gate.Tests;

public sealed class GateFixture : IAsyncDisposable
{
    private readonly Socket _syslog;
    private readonly List<string> _lines = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _syslogLoop;

    public GateFixture(string allow = "", string deny = "")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("giftwrap-gate-").FullName;
        Allow = Path.Combine(Directory, "hosts.allow");
        Deny = Path.Combine(Directory, "hosts.deny");
        File.WriteAllText(Allow, allow);
        File.WriteAllText(Deny, deny);
        SyslogPath = Path.Combine(Directory, "log.sock");
        _syslog = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _syslog.Bind(new UnixDomainSocketEndPoint(SyslogPath));
        _syslogLoop = Task.Run(ReadSyslogAsync);
        Log = new GateLog(SyslogPath, TextWriter.Null);
    }

    public string Directory { get; }
    public string Allow { get; }
    public string Deny { get; }
    public string SyslogPath { get; }
    public GateLog Log { get; }
    public GateServer? Server { get; private set; }

    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public GateConfig Config(params ServiceConfig[] services) => new()
    {
        Allow = Allow,
        Deny = Deny,
        Services = services,
        Syslog = SyslogPath,
        Limits = new LimitsConfig { DecisionTimeout = TimeSpan.FromSeconds(5), MaxPerSource = 16 },
    };

    public GateServer Start(GateConfig config, IRequestLookups? lookups = null)
    {
        Server = new GateServer(config, Log, lookups ?? new NoLookups());
        Server.Start();
        return Server;
    }

    /// <summary>Lookups that find nothing: names and users are unknown.</summary>
    public sealed class NoLookups : IRequestLookups
    {
        public ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken) => ValueTask.FromResult(AccessRequest.Unknown);

        public ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken) => ValueTask.FromResult(AccessRequest.Unknown);
    }

    public static async Task<Socket> ConnectAsync(int port, string from = "127.0.0.1", string to = "127.0.0.1")
    {
        var target = IPAddress.Parse(to);
        var s = new Socket(target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(new IPEndPoint(target, port));
        return s;
    }

    /// <summary>Reads until the peer closes (or 10 s pass).</summary>
    public static async Task<string> ReadAllAsync(Socket s)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var sb = new StringBuilder();
        var buf = new byte[4096];
        try
        {
            while (true)
            {
                var n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token);
                if (n == 0)
                    break;
                sb.Append(Encoding.Latin1.GetString(buf, 0, n));
            }
        }
        catch (SocketException)
        {
            // A reset counts as the end of what was sent.
        }
        return sb.ToString();
    }

    /// <summary>Waits until a syslog line containing <paramref name="text"/> arrives; returns it.</summary>
    public async Task<string> WaitForLogAsync(string text)
    {
        for (var i = 0; i < 200; i++)
        {
            lock (_lines)
            {
                var line = _lines.FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
                if (line is not null)
                    return line;
            }
            await Task.Delay(50);
        }
        lock (_lines)
            throw new Xunit.Sdk.XunitException($"no syslog line with \"{text}\"; got:\n{string.Join("\n", _lines)}");
    }

    public IReadOnlyList<string> LogLines
    {
        get
        {
            lock (_lines)
                return [.. _lines];
        }
    }

    private async Task ReadSyslogAsync()
    {
        var buf = new byte[8192];
        try
        {
            while (true)
            {
                var n = await _syslog.ReceiveAsync(buf, SocketFlags.None, _stop.Token);
                lock (_lines)
                    _lines.Add(Encoding.UTF8.GetString(buf, 0, n));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The fixture is being torn down.
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Server is not null)
            await Server.DisposeAsync();
        await _stop.CancelAsync();
        _syslog.Dispose();
        await _syslogLoop;
        Log.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>A backend on loopback that echoes every byte, and closes after the client half-closes.</summary>
public sealed class EchoServer : IDisposable
{
    private readonly Socket _listener;

    public EchoServer()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(64);
        Port = ((IPEndPoint)_listener.LocalEndPoint!).Port;
        _ = Task.Run(AcceptAsync);
    }

    public int Port { get; }
    public int Accepted;

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
            Interlocked.Increment(ref Accepted);
            _ = Task.Run(async () =>
            {
                using (s)
                {
                    var buf = new byte[65536];
                    try
                    {
                        int n;
                        while ((n = await s.ReceiveAsync(buf, SocketFlags.None)) > 0)
                            await s.SendAsync(buf.AsMemory(0, n), SocketFlags.None);
                        s.Shutdown(SocketShutdown.Send);
                    }
                    catch (SocketException)
                    {
                        // The gate or the client went away.
                    }
                }
            });
        }
    }

    public void Dispose() => _listener.Dispose();
}
