// The lookup metrics (giftwrap.lookups, giftwrap.lookup.duration) as a MeterListener sees them,
// against the real loopback DNS and ident servers: one measurement per question asked, tagged
// with its kind and outcome, none for an answer from the cache. Only measurements made in this
// test's own async flow are kept: lookups that other tests left running in the background (an
// abandoned resolver call, a verifier's timeout firing late) record on the same global Meter.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Giftwrap.Diagnostics;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;

namespace Giftwrap.Net.Tests;

[CollectionDefinition(nameof(LookupMetricsTests), DisableParallelization = true)]
public sealed class LookupMetricsCollection;

[Collection(nameof(LookupMetricsTests))]
public sealed class LookupMetricsTests : IDisposable
{
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.9");
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, string Kind, string Outcome)> _seen = new();
    private static readonly AsyncLocal<LookupMetricsTests?> Owner = new();

    public LookupMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GiftwrapMetrics.MeterName && instrument.Name is "giftwrap.lookups" or "giftwrap.lookup.duration")
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        _listener.Start();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (!ReferenceEquals(Owner.Value, this))
            return;
        string kind = "", outcome = "";
        foreach (var t in tags)
        {
            if (t.Key == "kind")
                kind = (string)t.Value!;
            else if (t.Key == "outcome")
                outcome = (string)t.Value!;
        }
        _seen.Enqueue((instrument.Name, value, kind, outcome));
    }

    private List<(string Kind, string Outcome)> Counted() =>
        [.. _seen.Where(s => s.Instrument == "giftwrap.lookups").Select(s => { Assert.Equal(1, s.Value); return (s.Kind, s.Outcome); })];

    private List<(string Kind, string Outcome, double Seconds)> Timed() =>
        [.. _seen.Where(s => s.Instrument == "giftwrap.lookup.duration").Select(s => (s.Kind, s.Outcome, s.Value))];

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task VerifiedName_CountsReverseAndForward_AndNothingForCachedAnswer()
    {
        Owner.Value = this;
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        server.AddAddress("client.example", Client);
        var verifier = new HostNameVerifier(new UdpDnsClient(server.EndPoint), new HostNameVerifierOptions { Timeout = TimeSpan.FromSeconds(5) });
        Assert.Equal("client.example", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal("client.example", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal([(GiftwrapMetrics.DnsReverse, GiftwrapMetrics.Ok), (GiftwrapMetrics.DnsForward, GiftwrapMetrics.Ok)], Counted());
        var timed = Timed();
        Assert.Equal(2, timed.Count);
        Assert.All(timed, t => Assert.True(t.Seconds is >= 0 and < 5, $"{t.Kind} took {t.Seconds} s"));
        Assert.Equal([GiftwrapMetrics.DnsReverse, GiftwrapMetrics.DnsForward], timed.Select(t => t.Kind));
    }

    [Fact]
    public async Task VerifiedName_SilentServer_CountsTimeout()
    {
        Owner.Value = this;
        await using var server = new DnsTestServer { Mode = DnsServerMode.Silent };
        var timeout = TimeSpan.FromMilliseconds(300);
        var verifier = new HostNameVerifier(new UdpDnsClient(server.EndPoint), new HostNameVerifierOptions { Timeout = timeout });
        Assert.Equal("unknown", await verifier.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal([(GiftwrapMetrics.DnsReverse, GiftwrapMetrics.TimedOut)], Counted());
        // The duration covers the wait the timeout ended.
        Assert.True(Timed().Single().Seconds >= timeout.TotalSeconds * 0.9);
    }

    [Fact]
    public async Task VerifiedName_ServerFailureOnForward_CountsReverseOkForwardFailed()
    {
        Owner.Value = this;
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        var dead = new UdpDnsClient(new IPEndPoint(IPAddress.Loopback, ClosedUdpPort()));
        var failing = new HostNameVerifier(new FirstFromSecondFrom(new UdpDnsClient(server.EndPoint), dead), new HostNameVerifierOptions { Timeout = TimeSpan.FromSeconds(5) });
        Assert.Equal("paranoid", await failing.VerifiedNameAsync(Client, CancellationToken.None));
        Assert.Equal([(GiftwrapMetrics.DnsReverse, GiftwrapMetrics.Ok), (GiftwrapMetrics.DnsForward, GiftwrapMetrics.Failed)], Counted());
    }

    [Fact]
    public async Task Ident_CountsOkFailedAndTimeout()
    {
        Owner.Value = this;
        var server = new IPEndPoint(IPAddress.Parse("127.0.0.2"), 22);
        var client = new IPEndPoint(IPAddress.Loopback, 40123);
        await using (var ident = new IdentTestServer())
        {
            Assert.Equal("alice", await new IdentClient(ident.Port).UserAsync(client, server, TimeSpan.FromSeconds(10), CancellationToken.None));
        }
        await using (var slow = new IdentTestServer { Mode = IdentMode.Slow })
        {
            Assert.Equal("unknown", await new IdentClient(slow.Port).UserAsync(client, server, TimeSpan.FromMilliseconds(300), CancellationToken.None));
        }
        Assert.Equal("unknown", await new IdentClient(ClosedTcpPort()).UserAsync(client, server, TimeSpan.FromSeconds(10), CancellationToken.None));
        Assert.Equal(
            [(GiftwrapMetrics.Ident, GiftwrapMetrics.Ok), (GiftwrapMetrics.Ident, GiftwrapMetrics.TimedOut), (GiftwrapMetrics.Ident, GiftwrapMetrics.Failed)],
            Counted());
        Assert.Equal(3, Timed().Count);
    }

    private static int ClosedTcpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    private static int ClosedUdpPort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>Reverse questions to one client, forward questions to another: a forward lookup that fails for real.</summary>
    private sealed class FirstFromSecondFrom(IDnsClient reverse, IDnsClient forward) : IDnsClient
    {
        public Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken) => reverse.ReverseAsync(address, cancellationToken);

        public Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken) => forward.ForwardAsync(name, cancellationToken);
    }
}
