// [service:X] proxy_protocol: the PROXY protocol header (HAProxy's proxy-protocol.txt) before the
// client's first byte, byte for byte against the spec, whole before the client's bytes when they
// are spliced, and read by the real HAProxy and nginx, whose logs then show the real client for
// IPv4 and IPv6. And exec, which needs none of it: the program's getpeername() is the client.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Forwarding;

namespace Giftwrap.Gate.Tests;

public sealed class ProxyProtocolTests
{
    private static ServiceConfig Forward(string name, IPEndPoint listen, int backend, ProxyProtocolVersion version) => new()
    {
        Name = name,
        Daemon = "web",
        Listen = [listen],
        Forward = new IPEndPoint(IPAddress.Loopback, backend),
        ProxyProtocol = version,
    };

    private static string Hex(ReadOnlySpan<byte> b) => Convert.ToHexString(b);

    [Theory]
    // Spec section 2.1's own examples.
    [InlineData("192.168.0.1", 56324, "192.168.0.11", 443, "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n")]
    [InlineData("2001:db8::1", 56324, "::1", 443, "PROXY TCP6 2001:db8::1 ::1 56324 443\r\n")]
    // An IPv4 client on a dual-stack socket is TCP4.
    [InlineData("::ffff:10.1.2.3", 1, "::ffff:10.0.0.1", 22, "PROXY TCP4 10.1.2.3 10.0.0.1 1 22\r\n")]
    public void V1_IsTheSpecsLine(string source, int sport, string destination, int dport, string expected)
    {
        var buf = new byte[ProxyHeader.MaxLength];
        var n = ProxyHeader.Write(ProxyProtocolVersion.V1, new IPEndPoint(IPAddress.Parse(source), sport), new IPEndPoint(IPAddress.Parse(destination), dport), buf);
        Assert.Equal(expected, Encoding.ASCII.GetString(buf, 0, n));
    }

    [Fact]
    public void V1_LongestLine_FitsTheSpecsBound()
    {
        var full = IPAddress.Parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        var buf = new byte[ProxyHeader.MaxLength];
        var n = ProxyHeader.Write(ProxyProtocolVersion.V1, new IPEndPoint(full, 65535), new IPEndPoint(full, 65535), buf);
        Assert.Equal(104, n);
        Assert.EndsWith("\r\n", Encoding.ASCII.GetString(buf, 0, n), StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownClient_IsV1Unknown_AndV2Local()
    {
        var buf = new byte[ProxyHeader.MaxLength];
        var local = new IPEndPoint(IPAddress.Loopback, 80);
        var n = ProxyHeader.Write(ProxyProtocolVersion.V1, null, local, buf);
        Assert.Equal("PROXY UNKNOWN\r\n", Encoding.ASCII.GetString(buf, 0, n));
        // Different families cannot be one connection: said as unknown, not half right.
        n = ProxyHeader.Write(ProxyProtocolVersion.V2, new IPEndPoint(IPAddress.IPv6Loopback, 5), local, buf);
        Assert.Equal("0D0A0D0A000D0A515549540A" + "20" + "00" + "0000", Hex(buf.AsSpan(0, n)));
    }

    [Fact]
    public void V2_Tcp4_IsSignatureProxyCommandFamilyLengthAddressesPorts()
    {
        var buf = new byte[ProxyHeader.MaxLength];
        var n = ProxyHeader.Write(ProxyProtocolVersion.V2, new IPEndPoint(IPAddress.Parse("10.1.2.3"), 0x1234), new IPEndPoint(IPAddress.Parse("192.0.2.9"), 22), buf);
        Assert.Equal("0D0A0D0A000D0A515549540A" + "21" + "11" + "000C" + "0A010203" + "C0000209" + "1234" + "0016", Hex(buf.AsSpan(0, n)));
    }

    [Fact]
    public void V2_Tcp6_Has36BytesOfAddresses()
    {
        var buf = new byte[ProxyHeader.MaxLength];
        var n = ProxyHeader.Write(ProxyProtocolVersion.V2, new IPEndPoint(IPAddress.Parse("2001:db8::7"), 65535), new IPEndPoint(IPAddress.IPv6Loopback, 443), buf);
        Assert.Equal(52, n);
        Assert.Equal("0D0A0D0A000D0A515549540A" + "21" + "21" + "0024" + "20010DB8000000000000000000000007" + "00000000000000000000000000000001" + "FFFF" + "01BB", Hex(buf.AsSpan(0, n)));
    }

    /// <summary>
    /// The header, then exactly the client's bytes: 8 MB sent at once on connect, before the
    /// backend has even accepted (so they are queued when the relay starts, and a full buffer turns
    /// the direction to splice(2)). Both ways in: decided on the loop (no options) and the long way.
    /// </summary>
    [Theory]
    [InlineData(ProxyProtocolVersion.V1, "")]
    [InlineData(ProxyProtocolVersion.V2, "")]
    [InlineData(ProxyProtocolVersion.V1, ": keepalive")]
    [InlineData(ProxyProtocolVersion.V2, ": keepalive")]
    public async Task Header_IsWholeBeforeTheClientsBytes_BulkAndSpliced(ProxyProtocolVersion version, string options)
    {
        await using var gate = new GateFixture($"web: ALL {options}\n");
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(4);
        var port = GateFixture.FreePort();
        var listen = new IPEndPoint(IPAddress.Loopback, port);
        gate.Start(gate.Config(Forward("web", listen, ((IPEndPoint)backend.LocalEndPoint!).Port, version)));
        var data = new byte[8 << 20];
        new Random(11).NextBytes(data);
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.7");
        var sending = Task.Run(async () =>
        {
            await c.SendAsync(data, SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
        });
        using var accepted = await backend.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var got = await ReadToEndAsync(accepted);
        await sending;
        var expected = new byte[ProxyHeader.MaxLength];
        var n = ProxyHeader.Write(version, (IPEndPoint)c.LocalEndPoint!, listen, expected);
        Assert.Equal(Hex(expected.AsSpan(0, n)), Hex(got.AsSpan(0, Math.Min(n, got.Length))));
        Assert.Equal(n + data.Length, got.Length);
        Assert.True(got.AsSpan(n).SequenceEqual(data), "the client's bytes after the header are not the bytes sent");
    }

    [Theory]
    [InlineData(ProxyProtocolVersion.V1)]
    [InlineData(ProxyProtocolVersion.V2)]
    public async Task Haproxy_WithAcceptProxy_LogsTheRealClient_Ipv4AndIpv6(ProxyProtocolVersion version)
    {
        using var haproxy = await ProxyBackend.HaproxyAsync();
        await TheBackendSeesTheClientAsync(haproxy, version, port => $"client=127.0.0.5:{port}", port => $"client=::1:{port}");
    }

    [Theory]
    [InlineData(ProxyProtocolVersion.V1)]
    [InlineData(ProxyProtocolVersion.V2)]
    public async Task Nginx_WithProxyProtocolListen_LogsTheRealClient_Ipv4AndIpv6(ProxyProtocolVersion version)
    {
        using var nginx = await ProxyBackend.NginxAsync();
        await TheBackendSeesTheClientAsync(nginx, version, port => $"client=127.0.0.5:{port} via=127.0.0.1", port => $"client=::1:{port} via=127.0.0.1");
    }

    /// <summary>
    /// One gate, an IPv4 and an IPv6 service in front of <paramref name="backend"/> (on 127.0.0.1):
    /// an HTTP request from 127.0.0.5 and one from ::1; the answer names the client, and the
    /// backend's log has its address and its very port.
    /// </summary>
    private static async Task TheBackendSeesTheClientAsync(ProxyBackend backend, ProxyProtocolVersion version, Func<int, string> v4Line, Func<int, string> v6Line)
    {
        await using var gate = new GateFixture("web: ALL\n");
        var p4 = GateFixture.FreePort();
        var p6 = GateFixture.FreePort();
        gate.Start(gate.Config(
            Forward("web4", new IPEndPoint(IPAddress.Loopback, p4), backend.Port, version),
            Forward("web6", new IPEndPoint(IPAddress.IPv6Loopback, p6), backend.Port, version)));
        foreach (var (port, from, to, line) in new[] { (p4, "127.0.0.5", "127.0.0.1", v4Line), (p6, "::1", "::1", v6Line) })
        {
            using var c = await GateFixture.ConnectAsync(port, from: from, to: to);
            await c.SendAsync("GET / HTTP/1.0\r\nHost: gate\r\n\r\n"u8.ToArray(), SocketFlags.None);
            var answer = await GateFixture.ReadAllAsync(c);
            Assert.Contains("200 OK", answer, StringComparison.Ordinal);
            Assert.EndsWith($"\r\n\r\n{from}\n", answer, StringComparison.Ordinal);
            await backend.WaitForLogAsync(line(((IPEndPoint)c.LocalEndPoint!).Port));
        }
    }

    [Fact]
    public async Task Exec_ProgramsGetpeername_IsTheClient()
    {
        await using var gate = new GateFixture("peer: ALL\n");
        var port = GateFixture.FreePort();
        gate.Start(gate.Config(new ServiceConfig
        {
            Name = "peer",
            Daemon = "peer",
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Exec = ["/usr/bin/python3", "-c", "import socket; s = socket.socket(fileno=0); a = s.getpeername(); print(a[0], a[1], flush=True); s.detach()"],
        }));
        using var c = await GateFixture.ConnectAsync(port, from: "127.0.0.8");
        Assert.Equal($"127.0.0.8 {((IPEndPoint)c.LocalEndPoint!).Port}\n", await GateFixture.ReadAllAsync(c));
    }

    private static async Task<byte[]> ReadToEndAsync(Socket s)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var all = new MemoryStream();
        var buf = new byte[1 << 16];
        int n;
        while ((n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
            all.Write(buf, 0, n);
        return all.ToArray();
    }
}
