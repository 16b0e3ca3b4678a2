// Real backends that read the PROXY protocol, for the proxy_protocol tests: Debian's HAProxy (a
// frontend with accept-proxy, logging to a Unix datagram socket of the test) and Debian's nginx
// (listen ... proxy_protocol, $proxy_protocol_addr in an access log). Each runs from a temp dir
// of its own on a free loopback port, in the foreground, and is stopped by its pid.
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Gate.Tests;

internal sealed partial class ProxyBackend : IDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly Func<string> _log;
    private readonly Socket? _logSocket;
    private readonly List<string> _logLines = [];

    private ProxyBackend(string dir, int port, Process process, Func<string>? log, Socket? logSocket)
    {
        _dir = dir;
        Port = port;
        _process = process;
        _logSocket = logSocket;
        _log = log ?? (() =>
        {
            lock (_logLines)
                return string.Join("\n", _logLines);
        });
        if (logSocket is not null)
            _ = Task.Run(ReadLogAsync);
    }

    public int Port { get; }

    /// <summary>The backend's log so far.</summary>
    public string Log => _log();

    /// <summary>HAProxy in tcp-accepting http mode: answers every request with the client address it learned, and logs it.</summary>
    public static async Task<ProxyBackend> HaproxyAsync()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-haproxy-").FullName;
        var port = GateFixture.FreePort();
        var logPath = Path.Combine(dir, "log.sock");
        var logSocket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        logSocket.Bind(new UnixDomainSocketEndPoint(logPath));
        File.WriteAllText(Path.Combine(dir, "haproxy.cfg"), $"""
            global
                log {logPath} local0
            defaults
                mode http
                log global
                log-format "client=%ci:%cp"
                timeout connect 5s
                timeout client 10s
                timeout server 10s
            frontend fe
                bind 127.0.0.1:{port} accept-proxy
                http-request return status 200 content-type text/plain lf-string "%[src]\n"

            """);
        var p = Start("haproxy", "-db", "-f", Path.Combine(dir, "haproxy.cfg"));
        var backend = new ProxyBackend(dir, port, p, null, logSocket);
        await backend.WaitListeningAsync();
        return backend;
    }

    /// <summary>nginx (one process, no daemon): answers with $proxy_protocol_addr and logs it to access.log.</summary>
    public static async Task<ProxyBackend> NginxAsync()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-nginx-").FullName;
        var port = GateFixture.FreePort();
        var access = Path.Combine(dir, "access.log");
        // Every path nginx would write is in the temp dir, so the machine's own are never touched.
        File.WriteAllText(Path.Combine(dir, "nginx.conf"), $$"""
            master_process off;
            daemon off;
            error_log {{dir}}/error.log;
            pid {{dir}}/nginx.pid;
            events { worker_connections 64; }
            http {
                client_body_temp_path {{dir}}/body;
                proxy_temp_path {{dir}}/proxy;
                fastcgi_temp_path {{dir}}/fastcgi;
                uwsgi_temp_path {{dir}}/uwsgi;
                scgi_temp_path {{dir}}/scgi;
                log_format pp 'client=$proxy_protocol_addr:$proxy_protocol_port via=$remote_addr';
                access_log {{access}} pp;
                server {
                    listen 127.0.0.1:{{port}} proxy_protocol;
                    location / { return 200 "$proxy_protocol_addr\n"; }
                }
            }

            """);
        var p = Start("nginx", "-e", Path.Combine(dir, "error.log"), "-p", dir, "-c", Path.Combine(dir, "nginx.conf"));
        var backend = new ProxyBackend(dir, port, p, () => File.Exists(access) ? File.ReadAllText(access) : "", null);
        await backend.WaitListeningAsync();
        return backend;
    }

    private static Process Start(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        var p = Process.Start(psi)!;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>Waits (at most 10 s) until the port takes connections; a backend that died says so.</summary>
    private async Task WaitListeningAsync()
    {
        for (var i = 0; i < 200; i++)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{_process.StartInfo.FileName} exited with {_process.ExitCode}");
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                // A connect that is closed at once: both read it as a client gone before its header.
                await s.ConnectAsync(System.Net.IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException)
            {
                // Not listening yet.
                await Task.Delay(50);
            }
        }
        throw new TimeoutException($"{_process.StartInfo.FileName} did not listen on {Port}");
    }

    /// <summary>Waits until the log has a line containing <paramref name="text"/>.</summary>
    public async Task<string> WaitForLogAsync(string text)
    {
        for (var i = 0; i < 200; i++)
        {
            var line = Log.Split('\n').FirstOrDefault(l => l.Contains(text, StringComparison.Ordinal));
            if (line is not null)
                return line;
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"no log line with \"{text}\"; got:\n{Log}");
    }

    private async Task ReadLogAsync()
    {
        var buf = new byte[4096];
        try
        {
            while (true)
            {
                var n = await _logSocket!.ReceiveAsync(buf, SocketFlags.None);
                lock (_logLines)
                    _logLines.Add(Encoding.UTF8.GetString(buf, 0, n));
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The backend is being stopped.
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            // SIGTERM by pid; kill if it does not go.
            _ = Sys.Kill(_process.Id, 15);
            if (!_process.WaitForExit(10_000))
                _process.Kill();
        }
        _process.WaitForExit();
        _process.Dispose();
        _logSocket?.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private static partial class Sys
    {
        [System.Runtime.InteropServices.LibraryImport("libc.so.6", EntryPoint = "kill")]
        public static partial int Kill(int pid, int signal);
    }
}
