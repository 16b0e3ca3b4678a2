// `giftwrap serve` with [metrics] listen: a real gate process, real connections granted,
// refused and twisted from several loopback addresses, a real echo backend, and /metrics
// scraped over HTTP and read as Prometheus text. Also: a bad [metrics] value stops the start.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class ServeMetricsTests
{
    [Fact]
    public async Task Serve_Metrics_CountDecisionsConnectionsAndBytes()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "echo: 127.0.0.1\nother: 127.0.0.3 : twist /bin/echo twisted\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        using var backend = new TcpListener(IPAddress.Loopback, 0);
        backend.Start();
        using var stopBackend = new CancellationTokenSource();
        var echoing = EchoAsync(backend, stopBackend.Token);
        var (echoPort, otherPort, metricsPort) = (Loopback.FreePort(), Loopback.FreePort(), Loopback.FreePort());
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[metrics]\nlisten = 127.0.0.1:{metricsPort}\n" +
            $"[service:echo]\nlisten = 127.0.0.1:{echoPort}\nforward = 127.0.0.1:{((IPEndPoint)backend.LocalEndpoint).Port}\n" +
            $"[service:other]\nlisten = 127.0.0.1:{otherPort}\nexec = /bin/cat\n");
        using var gate = Gate.Start(conf);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var url = new Uri($"http://127.0.0.1:{metricsPort}/metrics");
        try
        {
            await gate.Listening.WaitAsync(TimeSpan.FromSeconds(30));

            // One connection held open shows as active while it lasts.
            using var held = await ConnectAsync("127.0.0.1", echoPort);
            await ScrapeUntilAsync(http, url, s => s.Sum("giftwrap_connections_active", ("daemon", "echo"), ("service", "echo")) == 1);

            var sizes = new[] { 1000, 20_000, 300_000 };
            foreach (var size in sizes)
            {
                var data = new byte[size];
                Random.Shared.NextBytes(data);
                using var c = await ConnectAsync("127.0.0.1", echoPort);
                var reading = ReadAllAsync(c);
                await c.SendAsync(data, SocketFlags.None);
                c.Shutdown(SocketShutdown.Send);
                Assert.Equal(data, await reading);
            }
            for (var i = 0; i < 2; i++)
            {
                using var refused = await ConnectAsync("127.0.0.2", echoPort);
                Assert.Empty(await ReadAllAsync(refused));
            }
            using (var twisted = await ConnectAsync("127.0.0.3", otherPort))
                Assert.Equal("twisted\n", Encoding.ASCII.GetString(await ReadAllAsync(twisted)));
            using (var refused = await ConnectAsync("127.0.0.4", otherPort))
                Assert.Empty(await ReadAllAsync(refused));
            held.Shutdown(SocketShutdown.Send);
            Assert.Empty(await ReadAllAsync(held));

            var sent = sizes.Sum();
            var samples = await ScrapeUntilAsync(http, url, s =>
                s.Sum("giftwrap_decisions_total", ("daemon", "echo"), ("verdict", "granted")) == 4
                && s.Sum("giftwrap_forwarded_bytes_total", ("direction", "to_client")) == sent
                && s.Sum("giftwrap_connections_active") == 0
                && s.Sum("giftwrap_decisions_total", ("daemon", "other")) == 2);
            Assert.Equal(4, samples.Sum("giftwrap_decisions_total", ("daemon", "echo"), ("verdict", "granted"), ("source", "tables")));
            Assert.Equal(2, samples.Sum("giftwrap_decisions_total", ("daemon", "echo"), ("verdict", "denied"), ("source", "tables")));
            Assert.Equal(1, samples.Sum("giftwrap_decisions_total", ("daemon", "other"), ("verdict", "twist")));
            Assert.Equal(1, samples.Sum("giftwrap_decisions_total", ("daemon", "other"), ("verdict", "denied")));
            Assert.Equal(0, samples.Sum("giftwrap_decisions_total", ("verdict", "granted"), ("daemon", "other")));
            Assert.Equal(8, samples.Sum("giftwrap_decisions_total"));
            Assert.Equal(sent, samples.Sum("giftwrap_forwarded_bytes_total", ("direction", "to_backend")));
            Assert.Equal(sent, samples.Sum("giftwrap_forwarded_bytes_total", ("direction", "to_client")));
            Assert.Equal(0, samples.Sum("giftwrap_connections_active"));
            Assert.Contains(samples, s => s.Name == "target_info" && s.Labels.GetValueOrDefault("service_name") == "giftwrap");

            Assert.Equal(0, Loopback.Signal(gate.Process.Id, 15));
            Assert.True(gate.Process.WaitForExit(30_000), "serve did not exit after SIGTERM");
            Assert.Equal(0, gate.Process.ExitCode);
        }
        finally
        {
            await stopBackend.CancelAsync();
            backend.Stop();
            await echoing;
        }
    }

    [Fact]
    public async Task Serve_Metrics_CountBansFromShellAndBanOption()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "trap: ALL: ban 1h: deny\nALL: ALL\n");
        var (catPort, trapPort, metricsPort) = (Loopback.FreePort(), Loopback.FreePort(), Loopback.FreePort());
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[metrics]\nlisten = 127.0.0.1:{metricsPort}\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{catPort}\nexec = /bin/cat\n" +
            $"[service:trap]\nlisten = 127.0.0.1:{trapPort}\nexec = /bin/cat\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\n");
        using var gate = Gate.Start(conf);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var url = new Uri($"http://127.0.0.1:{metricsPort}/metrics");
        await gate.Listening.WaitAsync(TimeSpan.FromSeconds(30));
        await ScrapeUntilAsync(http, url, s => s.Any(x => x.Name == "giftwrap_bans_active"));

        // A ban from the shell reaches the gate through the store's journal.
        var r = CliRunner.Run(dir.Path, "ban", "192.0.2.7", "--for", "1h", "--config", conf);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        // The gauge reads the store and the counter hears the store's event just after: wait for both.
        var samples = await ScrapeUntilAsync(http, url, s =>
            s.Sum("giftwrap_bans_active") == 1 && s.Sum("giftwrap_ban_changes_total", ("change", "added")) == 1);
        Assert.Equal(1, samples.Sum("giftwrap_bans_active"));
        Assert.Equal(1, samples.Sum("giftwrap_ban_changes_total", ("change", "added")));

        // The ban option: the gate bans the client itself, then refuses it on the ban alone.
        using (var trapped = await ConnectAsync("127.0.0.22", trapPort))
            Assert.Empty(await ReadAllAsync(trapped));
        await ScrapeUntilAsync(http, url, s => s.Sum("giftwrap_bans_active") == 2);
        using (var banned = await ConnectAsync("127.0.0.22", catPort))
            Assert.Empty(await ReadAllAsync(banned));

        Assert.Equal(0, CliRunner.Run(dir.Path, "unban", "192.0.2.7", "--config", conf).ExitCode);
        samples = await ScrapeUntilAsync(http, url, s =>
            s.Sum("giftwrap_bans_active") == 1 && s.Sum("giftwrap_decisions_total", ("source", "ban")) == 1
            && s.Sum("giftwrap_ban_changes_total", ("change", "removed")) == 1);
        Assert.Equal(1, samples.Sum("giftwrap_bans_active"));
        Assert.Equal(2, samples.Sum("giftwrap_ban_changes_total", ("change", "added")));
        Assert.Equal(1, samples.Sum("giftwrap_ban_changes_total", ("change", "removed")));
        Assert.Equal(1, samples.Sum("giftwrap_decisions_total", ("daemon", "trap"), ("verdict", "denied"), ("source", "tables")));
        Assert.Equal(1, samples.Sum("giftwrap_decisions_total", ("daemon", "cat"), ("verdict", "denied"), ("source", "ban")));
    }

    [Fact]
    public void Serve_BadMetricsListen_NamesFileAndLine()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf",
            "[log]\nsyslog = off\n[service:x]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n\n[metrics]\nlisten = 127.0.0.1\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf);
        Assert.Equal(78, r.ExitCode);
        Assert.Contains($"{conf}:8:10: listen = 127.0.0.1: \"127.0.0.1\" has no port: write address:port", r.Stderr);

        File.WriteAllText(conf, "[metrics]\nlisten = localhost:9464\n[service:x]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n");
        r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, r.ExitCode);
        Assert.Contains($"{conf}:2:10: listen = localhost:9464: \"localhost:9464\": host names are not looked up here; write the address, such as 127.0.0.1:9464", r.Stderr);
    }

    [Fact]
    public void Serve_MetricsPortTaken_RefusesToStart()
    {
        using var dir = new TempDir();
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var conf = dir.Write("giftwrap.conf",
            $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n" +
            $"[metrics]\nlisten = {taken.LocalEndPoint}\n[service:x]\nlisten = 127.0.0.1:{Loopback.FreePort()}\nforward = 127.0.0.1:2\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"cannot listen for metrics on {taken.LocalEndPoint}", r.Stderr);
    }

    private static async Task<List<Sample>> ScrapeUntilAsync(HttpClient http, Uri url, Func<List<Sample>, bool> done)
    {
        // The exporter caches a scrape for a moment and the gate records a connection's bytes when it
        // ends: ask again until the expected state shows, then return what was seen.
        var deadline = Stopwatch.StartNew();
        List<Sample> samples;
        while (true)
        {
            using var response = await http.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType ?? "", StringComparison.Ordinal);
            samples = PrometheusText.Parse(await response.Content.ReadAsStringAsync());
            if (done(samples) || deadline.Elapsed > TimeSpan.FromSeconds(30))
                return samples;
            await Task.Delay(100);
        }
    }

    private static async Task<Socket> ConnectAsync(string from, int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(IPAddress.Loopback, port);
        return s;
    }

    private static async Task<byte[]> ReadAllAsync(Socket s)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var ms = new MemoryStream();
        var buf = new byte[64 * 1024];
        int n;
        while ((n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
            ms.Write(buf, 0, n);
        return ms.ToArray();
    }

    private static async Task EchoAsync(TcpListener listener, CancellationToken ct)
    {
        var running = new List<Task>();
        try
        {
            while (true)
            {
                var s = await listener.AcceptSocketAsync(ct);
                running.Add(Task.Run(async () =>
                {
                    using (s)
                    {
                        var buf = new byte[64 * 1024];
                        int n;
                        while ((n = await s.ReceiveAsync(buf, SocketFlags.None)) > 0)
                            await s.SendAsync(buf.AsMemory(0, n), SocketFlags.None);
                        s.Shutdown(SocketShutdown.Send);
                    }
                }, CancellationToken.None));
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The test is over.
        }
        await Task.WhenAll(running);
    }

    private sealed class Gate : IDisposable
    {
        private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private Gate(Process p) => Process = p;

        public Process Process { get; }

        public Task Listening => _listening.Task;

        public StringBuilder Stderr { get; } = new();

        public static Gate Start(string conf)
        {
            var psi = new ProcessStartInfo("dotnet", [CliRunner.Dll, "serve", "--config", conf, "--drain-seconds", "5"])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            };
            var gate = new Gate(Process.Start(psi)!);
            gate.Process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null)
                    return;
                lock (gate.Stderr)
                    gate.Stderr.AppendLine(e.Data);
                if (e.Data.Contains("metrics on http://", StringComparison.Ordinal))
                    gate._listening.TrySetResult();
            };
            // A gate that exits before it listens (a port taken meanwhile) fails the wait with what it said,
            // not a bare timeout.
            gate.Process.EnableRaisingEvents = true;
            gate.Process.Exited += (_, _) =>
            {
                gate.Process.WaitForExit();
                lock (gate.Stderr)
                    gate._listening.TrySetException(new InvalidOperationException($"serve exited ({gate.Process.ExitCode}) before listening:\n{gate.Stderr}"));
            };
            gate.Process.BeginErrorReadLine();
            return gate;
        }

        public void Dispose()
        {
            if (!Process.HasExited)
                Process.Kill(entireProcessTree: true);
            Process.Dispose();
        }
    }
}
