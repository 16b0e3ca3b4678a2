// The bouncer against a Local API that answers what no real CrowdSec writes: null decisions,
// durations past the year 9999, an answer without a Content-Length that never ends. A small
// HTTP server on loopback plays it (the real LAPI cannot be made to say these). The bouncer
// keeps running, bans what it can, refuses the rest, and holds no unbounded answer in memory.
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Bans.CrowdSec.Tests;

public sealed class HostileLapiTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-hostile-lapi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private BanStore OpenStore() => BanStore.Open(new BanOptions { Store = Path.Combine(_dir, "store"), Origin = "gate-a" });

    private static CrowdSecOptions Options(FakeLapi lapi) => new()
    {
        Lapi = new Uri(lapi.Url),
        ApiKey = "key",
        Poll = TimeSpan.FromMilliseconds(100),
        Timeout = TimeSpan.FromSeconds(10),
        FirstBackoff = TimeSpan.FromMilliseconds(100),
        MaxBackoff = TimeSpan.FromMilliseconds(200),
    };

    private static string Decision(int id, string value, string duration, string scope = "Ip") =>
        $$"""{"id":{{id}},"origin":"cscli","scenario":"test","scope":"{{scope}}","type":"ban","value":"{{value}}","duration":"{{duration}}"}""";

    private static bool Active(BanStore store, string target) =>
        store.Get(BanTarget.Parse(target)) is { } e && e.IsActive(DateTimeOffset.UtcNow);

    private static async Task Until(Func<bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail($"still not so after 30 s: {what}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Bouncer_NullDecisionsAndEndlessDurations_BansTheRestAndGoesOn()
    {
        using var lapi = new FakeLapi(startup => startup
            ? $$"""{"new":[null,{{Decision(1, "10.5.0.1", "100000000h")}},{{Decision(2, "10.5.0.2", "1h")}}],"deleted":[null]}"""
            : $$"""{"new":[{{Decision(3, "10.5.0.3", "1h")}},null],"deleted":[null,{{Decision(2, "10.5.0.2", "1h")}}]}""");
        var log = new ListLogger();
        using var store = OpenStore();
        await using var bouncer = CrowdSecBouncer.Start(store, Options(lapi), log);
        await Until(() => Active(store, "10.5.0.3"), "the delta after the hostile full list applied");
        Assert.False(Active(store, "10.5.0.2")); // its deletion in the same delta
        // Eleven thousand years: banned until the last time the store can hold, not a crash.
        Assert.True(Active(store, "10.5.0.1"));
        Assert.True(bouncer.Polls >= 2);
    }

    [Fact]
    public async Task Bouncer_AnswerWithoutLengthPastTheLimit_RefusedNotHeldInMemory()
    {
        // Chunked, no Content-Length: the limit must hold for the bytes read, not only for the header.
        var decisions = string.Join(',', Enumerable.Range(1, 20_000).Select(i => Decision(i, $"10.6.{i / 250}.{i % 250}", "1h")));
        using var lapi = new FakeLapi(_ => $$"""{"new":[{{decisions}}],"deleted":null}""", chunked: true);
        var log = new ListLogger();
        using var store = OpenStore();
        await using var bouncer = CrowdSecBouncer.Start(store, Options(lapi) with { MaxAnswerBytes = 512 * 1024 }, log);
        await Until(() => log.Lines.Any(l => l.Contains("more than 524288 bytes", StringComparison.Ordinal)), "the answer refused");
        Assert.Empty(store.List(DateTimeOffset.UtcNow));
        Assert.Equal(0, bouncer.Polls);
    }
}

/// <summary>An HTTP/1.1 server on a free loopback port answering every request with the body a function gives (startup=true or not).</summary>
internal sealed class FakeLapi : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _serving;

    public FakeLapi(Func<bool, string> answer, bool chunked = false)
    {
        _listener.Start();
        _serving = Task.Run(() => ServeAsync(answer, chunked));
    }

    public string Url => $"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    private async Task ServeAsync(Func<bool, string> answer, bool chunked)
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return; // stopped
            }
            _ = Task.Run(() => AnswerAsync(client, answer, chunked));
        }
    }

    private async Task AnswerAsync(Socket client, Func<bool, string> answer, bool chunked)
    {
        using var _ = client;
        await using var stream = new NetworkStream(client);
        var request = new StringBuilder();
        var buffer = new byte[4096];
        try
        {
            while (!request.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                    return;
                request.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }
            var body = Encoding.UTF8.GetBytes(answer(request.ToString().Contains("startup=true", StringComparison.Ordinal)));
            var head = chunked
                ? "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                : $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), _stop.Token);
            if (!chunked)
            {
                await stream.WriteAsync(body, _stop.Token);
                return;
            }
            for (var i = 0; i < body.Length; i += 16384)
            {
                var n = Math.Min(16384, body.Length - i);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{n:x}\r\n"), _stop.Token);
                await stream.WriteAsync(body.AsMemory(i, n), _stop.Token);
                await stream.WriteAsync("\r\n"u8.ToArray(), _stop.Token);
            }
            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), _stop.Token);
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
        {
            // The client hung up (as it should on an answer past its limit), or the server stops.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        _serving.Wait(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }
}
