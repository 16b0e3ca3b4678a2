// The UDP stub resolver against a real (tiny) DNS server on loopback, good and hostile.
using System.Net;
using Giftwrap.Net.Dns;
using Giftwrap.Net.Tests.Peers;

namespace Giftwrap.Net.Tests;

public sealed class UdpDnsClientTests
{
    private static readonly IPAddress Client = IPAddress.Parse("127.0.0.7");

    [Fact]
    public async Task ReverseAsync_PtrRecord_ReturnsName()
    {
        await using var server = new DnsTestServer();
        server.AddPtr(Client, "client.example");
        var dns = new UdpDnsClient(server.EndPoint);
        Assert.Equal(["client.example"], await dns.ReverseAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task ForwardAsync_AAndAaaa_ReturnsBoth()
    {
        await using var server = new DnsTestServer();
        server.AddAddress("client.example", Client);
        server.AddAddress("client.example", IPAddress.Parse("2001:db8::7"));
        var dns = new UdpDnsClient(server.EndPoint);
        var addresses = await dns.ForwardAsync("client.example", CancellationToken.None);
        Assert.Equal([Client, IPAddress.Parse("2001:db8::7")], addresses);
    }

    [Fact]
    public async Task ReverseAsync_NxDomain_Empty()
    {
        await using var server = new DnsTestServer();
        var dns = new UdpDnsClient(server.EndPoint);
        Assert.Empty(await dns.ReverseAsync(Client, CancellationToken.None));
    }

    [Fact]
    public async Task ForwardAsync_LiteralAddress_EmptyWithoutAsking()
    {
        await using var server = new DnsTestServer();
        var dns = new UdpDnsClient(server.EndPoint);
        Assert.Empty(await dns.ForwardAsync("127.0.0.7", CancellationToken.None));
        Assert.Empty(server.Questions);
    }

    [Theory]
    [InlineData(DnsServerMode.Truncated, DnsFailure.Truncated)]
    [InlineData(DnsServerMode.ServerFailure, DnsFailure.ServerFailure)]
    [InlineData(DnsServerMode.CompressionLoop, DnsFailure.Malformed)]
    [InlineData(DnsServerMode.OverrunRecord, DnsFailure.Malformed)]
    public async Task ReverseAsync_BadReply_FailsWithReason(DnsServerMode mode, DnsFailure reason)
    {
        await using var server = new DnsTestServer { Mode = mode };
        server.AddPtr(Client, "client.example");
        var dns = new UdpDnsClient(server.EndPoint);
        var failure = await Assert.ThrowsAsync<DnsLookupException>(() => dns.ReverseAsync(Client, CancellationToken.None));
        Assert.Equal(reason, failure.Reason);
    }

    [Theory]
    [InlineData(DnsServerMode.WrongId)]
    [InlineData(DnsServerMode.Garbage)]
    [InlineData(DnsServerMode.Silent)]
    public async Task ReverseAsync_NoReplyOfOurs_WaitsUntilCancelled(DnsServerMode mode)
    {
        await using var server = new DnsTestServer { Mode = mode };
        server.AddPtr(Client, "client.example");
        var dns = new UdpDnsClient(server.EndPoint);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dns.ReverseAsync(Client, timeout.Token));
        Assert.NotEmpty(server.Questions);
    }

    [Theory]
    [InlineData("127.0.0.1:5353", "127.0.0.1:5353")]
    [InlineData("127.0.0.1", "127.0.0.1:53")]
    [InlineData("[::1]:5353", "[::1]:5353")]
    [InlineData("::1", "[::1]:53")]
    public void TryParseServer_Forms_Parsed(string text, string expected)
    {
        Assert.True(UdpDnsClient.TryParseServer(text, out var server));
        Assert.Equal(expected, server.ToString());
    }

    [Theory]
    [InlineData("dns.example")]
    [InlineData("127.0.0.1:0")]
    [InlineData("[::1]")]
    [InlineData("")]
    public void TryParseServer_NotAnEndPoint_Refused(string text) =>
        Assert.False(UdpDnsClient.TryParseServer(text, out _));
}
