// RFC 1413 ident against a real ident server on a high loopback port, polite and hostile.
using System.Net;
using Giftwrap.Net.Ident;
using Giftwrap.Net.Tests.Peers;

namespace Giftwrap.Net.Tests;

public sealed class IdentClientTests
{
    private static readonly IPEndPoint Client = new(IPAddress.Loopback, 40123);
    private static readonly IPEndPoint Server = new(IPAddress.Parse("127.0.0.2"), 22);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task UserAsync_NormalReply_UserFromServerAddress()
    {
        await using var ident = new IdentTestServer();
        Assert.Equal("alice", await new IdentClient(ident.Port).UserAsync(Client, Server, Generous, CancellationToken.None));
        (var query, var from) = await ident.Asked.Task;
        // As libwrap's rfc931.c sends it.
        Assert.Equal("40123,22\r\n", query);
        Assert.Equal(Server.Address, from.Address);
    }

    [Theory]
    [InlineData(IdentMode.Error)]
    [InlineData(IdentMode.Malformed)]
    [InlineData(IdentMode.WrongPorts)]
    [InlineData(IdentMode.NoNewline)]
    [InlineData(IdentMode.Huge)]
    public async Task UserAsync_BadReply_Unknown(IdentMode mode)
    {
        await using var ident = new IdentTestServer { Mode = mode };
        Assert.Equal("unknown", await new IdentClient(ident.Port).UserAsync(Client, Server, Generous, CancellationToken.None));
    }

    [Fact]
    public async Task UserAsync_SlowServer_UnknownAfterTimeout()
    {
        await using var ident = new IdentTestServer { Mode = IdentMode.Slow };
        Assert.Equal("unknown", await new IdentClient(ident.Port).UserAsync(Client, Server, TimeSpan.FromSeconds(1), CancellationToken.None));
        await ident.Asked.Task;
    }

    [Fact]
    public async Task UserAsync_Refused_Unknown()
    {
        int port;
        await using (var ident = new IdentTestServer())
        {
            port = ident.Port;
        }
        Assert.Equal("unknown", await new IdentClient(port).UserAsync(Client, Server, Generous, CancellationToken.None));
    }

    [Fact]
    public async Task UserAsync_CallerCancels_Throws()
    {
        await using var ident = new IdentTestServer { Mode = IdentMode.Slow };
        using var cancel = new CancellationTokenSource();
        var user = new IdentClient(ident.Port).UserAsync(Client, Server, Generous, cancel.Token).AsTask();
        await ident.Asked.Task;
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => user);
    }

    [Fact]
    public async Task UserAsync_Ipv4MappedAddresses_AskedOverIpv4()
    {
        await using var ident = new IdentTestServer();
        var client = new IPEndPoint(Client.Address.MapToIPv6(), Client.Port);
        var server = new IPEndPoint(Server.Address.MapToIPv6(), Server.Port);
        Assert.Equal("alice", await new IdentClient(ident.Port).UserAsync(client, server, Generous, CancellationToken.None));
    }

    [Theory]
    [InlineData("40123 , 22 : USERID : UNIX : alice", "alice")]
    [InlineData("40123,22:USERID:UNIX:alice", "alice")]
    [InlineData("  40123 ,  22 :  USERID  : UNIX , UTF-8 :   bob  ", "bob")]
    [InlineData("40123 , 22 : USERID : UNIX : bob smith", "bob")]
    [InlineData("40123 , 22 : USERID : UNIX : a:b", "a:b")]
    [InlineData("40123 , 22 : USERID : UNIX : $(reboot);`id`", "$(reboot);`id`")]
    [InlineData("40123 , 22 : ERROR : NO-USER", "unknown")]
    [InlineData("40123 , 22 : ERROR : HIDDEN-USER : x", "unknown")]
    [InlineData("40123 , 22 : USERID : UNIX :   ", "unknown")]
    [InlineData("40123 , 22 : USERID : UNIX : ev\u0001il", "unknown")]
    [InlineData("40123 , 22 : USERID : UNIX : ev\u007fil", "unknown")]
    [InlineData("40124 , 22 : USERID : UNIX : alice", "unknown")]
    [InlineData("40123 , 23 : USERID : UNIX : alice", "unknown")]
    [InlineData("40123 : USERID : UNIX : alice", "unknown")]
    [InlineData("x , 22 : USERID : UNIX : alice", "unknown")]
    [InlineData("40123 , 22 : USERID : alice", "unknown")]
    [InlineData("", "unknown")]
    public void Parse_Replies_LibwrapReading(string line, string expected) =>
        Assert.Equal(expected, IdentReply.Parse(System.Text.Encoding.Latin1.GetBytes(line), 40123, 22));

    [Fact]
    public void Parse_LongUser_CutTo127() =>
        Assert.Equal(new string('u', 127), IdentReply.Parse(System.Text.Encoding.Latin1.GetBytes("40123 , 22 : USERID : UNIX : " + new string('u', 300)), 40123, 22));
}
