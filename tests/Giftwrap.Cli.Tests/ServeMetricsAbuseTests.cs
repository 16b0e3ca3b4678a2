// `giftwrap serve`'s [metrics] endpoint under hostile clients, over real sockets on loopback
// against a real gate: a flood of idle connections under a low descriptor limit, a slow-loris,
// oversized heads, and methods and paths it does not serve. The gate and its services must
// not pay for any of it; what the scrape shows is ServeMetricsTests'.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Cli.Metrics;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServeMetricsAbuseTests
{
    [Fact]
    public async Task IdleFlood_UnderALowDescriptorLimit_TakesAtMostTheBound_AndTheGateServesOn()
    {
        using var dir = new TempDir();
        var (port, metricsPort) = (Loopback.FreePort(), Loopback.FreePort());
        using var gate = await StartAsync(dir, port, metricsPort);
        Assert.Equal("served\n", await ExchangeAsync(port));
        Assert.Contains(await ScrapeAsync(metricsPort), s => s.Name == "giftwrap_decisions_total");
        var socketsBefore = Sockets(gate.Id);
        var soft = DescriptorLimit.Soft(gate.Id);
        // Room for the bound, not for the flood: the exporter on HttpListener took one descriptor per
        // connection until the runtime had none left.
        await DescriptorLimit.SetSoftAsync(gate.Id, Directory.GetFileSystemEntries($"/proc/{gate.Id}/fd").Length + 64);

        var flood = await ConnectManyAsync(metricsPort, 150);
        try
        {
            for (var i = 0; i < 3; i++)
                Assert.Equal("served\n", await ExchangeAsync(port));
            Assert.Null(gate.ExitCode(TimeSpan.FromMilliseconds(100)));
            var most = 0;
            for (var watch = Stopwatch.StartNew(); watch.Elapsed < TimeSpan.FromSeconds(2); await Task.Delay(100))
                most = Math.Max(most, Sockets(gate.Id) - socketsBefore);
            Assert.True(most <= MetricsServer.MaxConnections, $"{most} more sockets with {flood.Count(s => s.Connected)} idle clients connected");
        }
        finally
        {
            foreach (var s in flood)
                s.Dispose();
        }
        await DescriptorLimit.SetSoftAsync(gate.Id, soft);
        var samples = await ScrapeAsync(metricsPort);
        Assert.Equal(4, samples.Sum("giftwrap_decisions_total", ("daemon", "hello"), ("verdict", "granted")));
        Assert.Null(gate.ExitCode(TimeSpan.FromMilliseconds(100)));
        Assert.DoesNotContain("Unhandled exception", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BoundFullOfIdleClients_AScrapeWaits_AndIsServedOnceTheyAreCut()
    {
        using var dir = new TempDir();
        var (port, metricsPort) = (Loopback.FreePort(), Loopback.FreePort());
        using var gate = await StartAsync(dir, port, metricsPort);
        Assert.Contains(await ScrapeAsync(metricsPort), s => s.Name == "target_info");
        var socketsBefore = Sockets(gate.Id);

        var idle = await ConnectManyAsync(metricsPort, 2 * MetricsServer.MaxConnections);
        try
        {
            await Task.Delay(500);
            var held = Sockets(gate.Id) - socketsBefore;
            Assert.True(held <= MetricsServer.MaxConnections, $"{held} more sockets for {idle.Count} idle clients");
            // The idle clients never send a request: each is cut at its deadline, and the scrape,
            // waiting in the backlog meanwhile, is served. Prometheus' default scrape timeout is 10 s;
            // the deadline for a request (MetricsServer.RequestTimeout) is 5 s.
            var samples = await ScrapeAsync(metricsPort, TimeSpan.FromSeconds(20));
            Assert.Contains(samples, s => s.Name == "target_info" && s.Labels.GetValueOrDefault("service_name") == "giftwrap");
        }
        finally
        {
            foreach (var s in idle)
                s.Dispose();
        }
        Assert.Equal("served\n", await ExchangeAsync(port));
    }

    [Fact]
    public async Task SlowLoris_IsCut_AndTheNextScrapeIsServed()
    {
        using var dir = new TempDir();
        var (port, metricsPort) = (Loopback.FreePort(), Loopback.FreePort());
        using var gate = await StartAsync(dir, port, metricsPort);

        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await slow.ConnectAsync(IPAddress.Loopback, metricsPort);
        await slow.SendAsync("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "u8.ToArray(), SocketFlags.None);
        // One byte of a header field that never ends, five times a second, for up to 30 s.
        var reading = ReadToEndAsync(slow, TimeSpan.FromSeconds(40));
        for (var watch = Stopwatch.StartNew(); !reading.IsCompleted && watch.Elapsed < TimeSpan.FromSeconds(30);)
        {
            try
            {
                await slow.SendAsync("a"u8.ToArray(), SocketFlags.None);
            }
            catch (SocketException)
            {
                // Reset: the gate closed it.
                break;
            }
            await Task.WhenAny(reading, Task.Delay(200));
        }
        var got = await reading;
        Assert.True(got is not null, "the slow request was still open after 30 s");
        Assert.DoesNotContain("200 OK", got, StringComparison.Ordinal);

        Assert.Contains(await ScrapeAsync(metricsPort), s => s.Name == "target_info");
        Assert.Equal("served\n", await ExchangeAsync(port));
    }

    [Fact]
    public async Task OversizedHead_IsRefused_AndTheNextScrapeIsServed()
    {
        using var dir = new TempDir();
        var (port, metricsPort) = (Loopback.FreePort(), Loopback.FreePort());
        using var gate = await StartAsync(dir, port, metricsPort);

        // Whole, but twice the size allowed.
        var big = $"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {new string('a', 2 * MetricsServer.MaxHead)}\r\n\r\n";
        var answer = await RequestAsync(metricsPort, big);
        Assert.StartsWith("HTTP/1.1 431 ", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("target_info", answer, StringComparison.Ordinal);

        // A head that never ends, as fast as the gate takes it: cut, never answered with the metrics.
        using (var endless = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            await endless.ConnectAsync(IPAddress.Loopback, metricsPort);
            var reading = ReadToEndAsync(endless, TimeSpan.FromSeconds(30));
            var chunk = Encoding.ASCII.GetBytes("X-More: " + new string('b', 1000) + "\r\n");
            await endless.SendAsync("GET /metrics HTTP/1.1\r\n"u8.ToArray(), SocketFlags.None);
            try
            {
                for (var sent = 0; sent < 4 << 20 && !reading.IsCompleted; sent += chunk.Length)
                    await endless.SendAsync(chunk, SocketFlags.None).WaitAsync(TimeSpan.FromSeconds(30));
            }
            catch (SocketException)
            {
                // Reset: the gate closed it with what was still unread.
            }
            var got = await reading;
            Assert.True(got is not null, "the endless request was still open after 30 s");
            Assert.DoesNotContain("target_info", got, StringComparison.Ordinal);
        }

        Assert.Contains(await ScrapeAsync(metricsPort), s => s.Name == "target_info");
        Assert.Equal("served\n", await ExchangeAsync(port));
    }

    [Fact]
    public async Task MethodsAndPaths_GetAndHeadOfMetricsOnly()
    {
        using var dir = new TempDir();
        var (port, metricsPort) = (Loopback.FreePort(), Loopback.FreePort());
        using var gate = await StartAsync(dir, port, metricsPort);

        var post = await RequestAsync(metricsPort, "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello");
        Assert.StartsWith("HTTP/1.1 405 ", post, StringComparison.Ordinal);
        Assert.Contains("\r\nAllow: GET, HEAD\r\n", post, StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 405 ", await RequestAsync(metricsPort, "DELETE /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 404 ", await RequestAsync(metricsPort, "GET /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 404 ", await RequestAsync(metricsPort, "POST /other HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), StringComparison.Ordinal);
        Assert.StartsWith("HTTP/1.1 400 ", await RequestAsync(metricsPort, "hello\r\n\r\n"), StringComparison.Ordinal);

        var head = await RequestAsync(metricsPort, "HEAD /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", head, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n", head, StringComparison.Ordinal);
        Assert.Contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n", head, StringComparison.Ordinal);

        // HTTP/1.0, and a query string (the exporter ignored it too), with a bare LF ending the lines.
        foreach (var request in new[] { "GET /metrics HTTP/1.0\r\n\r\n", "GET /metrics?x=1 HTTP/1.1\nHost: 127.0.0.1\n\n" })
        {
            var answer = await RequestAsync(metricsPort, request);
            Assert.StartsWith("HTTP/1.1 200 ", answer, StringComparison.Ordinal);
            var body = answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
            Assert.Contains(PrometheusText.Parse(body), s => s.Name == "target_info");
        }
        Assert.Equal("served\n", await ExchangeAsync(port));
    }

    [Fact]
    public void Serve_MetricsAddressNotLocal_RefusesToStart_NamingTheLine()
    {
        using var dir = new TempDir();
        // TEST-NET-1 (RFC 5737): no interface here has it, so bind(2) fails; nothing is sent to it.
        var conf = dir.Write("giftwrap.conf",
            $"[log]\nsyslog = off\n[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n" +
            $"[metrics]\nlisten = 192.0.2.1:9464\n[service:x]\nlisten = 127.0.0.1:{Loopback.FreePort()}\nforward = 127.0.0.1:2\n");
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{conf}:7:", r.Stderr);
        Assert.Contains("cannot listen for metrics on 192.0.2.1:9464: ", r.Stderr);
    }

    private static async Task<ServeProcess> StartAsync(TempDir dir, int port, int metricsPort)
    {
        dir.Write("hosts.allow", "ALL: ALL\n");
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[metrics]\nlisten = 127.0.0.1:{metricsPort}\n" +
            $"[service:hello]\nlisten = 127.0.0.1:{port}\nexec = /bin/echo served\n");
        var gate = new ServeProcess(conf, drainSeconds: 2);
        try
        {
            await gate.WaitForAsync("metrics on http://", TimeSpan.FromSeconds(30));
        }
        catch
        {
            gate.Dispose();
            throw;
        }
        return gate;
    }

    private static async Task<List<Sample>> ScrapeAsync(int metricsPort, TimeSpan? within = null)
    {
        using var http = new HttpClient { Timeout = within ?? TimeSpan.FromSeconds(10) };
        using var response = await http.GetAsync(new Uri($"http://127.0.0.1:{metricsPort}/metrics"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Sends <paramref name="request"/> as it is and reads the answer to its end.</summary>
    private static async Task<string> RequestAsync(int metricsPort, string request)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, metricsPort);
        var reading = ReadToEndAsync(s, TimeSpan.FromSeconds(10));
        await s.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        return await reading ?? throw new TimeoutException($"no end to the answer to {request[..Math.Min(40, request.Length)]}");
    }

    /// <summary>What the peer sent until it closed (or reset), or null if it had not closed <paramref name="within"/>.</summary>
    private static async Task<string?> ReadToEndAsync(Socket s, TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        var text = new StringBuilder();
        var buffer = new byte[64 * 1024];
        try
        {
            int n;
            while ((n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
                text.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        catch (SocketException)
        {
            // A reset is an end too.
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        return text.ToString();
    }

    /// <summary>What the gate's service sends a client, or "(no end)" when it does not close within 10 s.</summary>
    private static async Task<string> ExchangeAsync(int port)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(10));
        return await ReadToEndAsync(s, TimeSpan.FromSeconds(10)) ?? "(no end)";
    }

    /// <summary>
    /// <paramref name="count"/> clients that connect and send nothing. Past the accept queue the kernel
    /// drops their SYNs and they keep trying; each has 2 s, and all are returned, connected or not.
    /// </summary>
    private static async Task<List<Socket>> ConnectManyAsync(int port, int count)
    {
        var sockets = Enumerable.Range(0, count).Select(_ => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)).ToList();
        await Task.WhenAll(sockets.Select(async s =>
        {
            try
            {
                await s.ConnectAsync(IPAddress.Loopback, port).WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception ex) when (ex is TimeoutException or SocketException)
            {
                // Still in SYN retries, or refused: it takes nothing of the gate's.
            }
        }));
        return sockets;
    }

    /// <summary>The sockets among the descriptors of <paramref name="pid"/>.</summary>
    private static int Sockets(int pid)
    {
        var count = 0;
        foreach (var fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                    count++;
            }
            catch (IOException)
            {
                // Closed between the listing and the look.
            }
        }
        return count;
    }
}
