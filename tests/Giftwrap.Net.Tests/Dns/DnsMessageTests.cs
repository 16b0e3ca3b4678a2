// The DNS wire format on its own: names, reverse names, and replies no input can make throw.
using System.Net;
using Giftwrap.Net.Dns;

namespace Giftwrap.Net.Tests;

public sealed class DnsMessageTests
{
    [Theory]
    [InlineData("192.0.2.1", "1.2.0.192.in-addr.arpa")]
    [InlineData("2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa")]
    public void ReverseName_Address_Rfc1035AndRfc3596Form(string address, string expected) =>
        Assert.Equal(expected, DnsMessage.ReverseName(IPAddress.Parse(address)));

    [Theory]
    [InlineData("example.com", true)]
    [InlineData("example.com.", true)]
    [InlineData("", false)]
    [InlineData("a..b", false)]
    [InlineData("é.example", false)]
    public void TryEncodeName_Names_OnlyDnsNamesEncode(string name, bool expected) =>
        Assert.Equal(expected, DnsMessage.TryEncodeName(name, new byte[255], out _));

    [Fact]
    public void TryEncodeName_LabelOver63_Refused() =>
        Assert.False(DnsMessage.TryEncodeName(new string('a', 64) + ".example", new byte[255], out _));

    [Fact]
    public void ParseReply_RandomBytes_NeverThrowsNorAnswers()
    {
        var query = DnsMessage.BuildQuery(0x1234, "example.com", DnsRecordType.A)!;
        var random = new Random(1413);
        for (var i = 0; i < 20_000; i++)
        {
            var reply = new byte[random.Next(0, 600)];
            random.NextBytes(reply);
            if (reply.Length >= 2 && i % 2 == 0)
            {
                reply[0] = 0x12;
                reply[1] = 0x34;
            }
            DnsMessage.ParseReply(reply, query, DnsRecordType.A, [], []);
        }
    }

    [Fact]
    public void ParseReply_EveryPrefixOfAGoodReply_NeverAnswersWithLess()
    {
        var query = DnsMessage.BuildQuery(7, "host.example", DnsRecordType.A)!;
        byte[] reply = [.. query, 0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1];
        reply[2] = 0x81;
        reply[3] = 0x80;
        reply[7] = 1;
        var full = new List<IPAddress>();
        Assert.Equal(ReplyStatus.Answer, DnsMessage.ParseReply(reply, query, DnsRecordType.A, [], full));
        Assert.Equal([IPAddress.Parse("192.0.2.1")], full);
        for (var length = 0; length < reply.Length; length++)
        {
            var status = DnsMessage.ParseReply(reply.AsSpan(0, length), query, DnsRecordType.A, [], []);
            Assert.Contains(status, new[] { ReplyStatus.NotOurs, ReplyStatus.Malformed });
        }
    }

    [Fact]
    public void TryReadName_PointerToItself_Refused()
    {
        byte[] message = [0, 0, 0xC0, 0x02];
        var offset = 2;
        Assert.False(DnsMessage.TryReadName(message, ref offset, new byte[255], out _));
    }

    [Fact]
    public void TryReadName_ForwardPointer_Refused()
    {
        byte[] message = [0xC0, 0x02, 1, (byte)'a', 0];
        var offset = 0;
        Assert.False(DnsMessage.TryReadName(message, ref offset, new byte[255], out _));
    }

    [Fact]
    public void TryReadName_BackwardPointer_Followed()
    {
        byte[] message = [1, (byte)'a', 0, 1, (byte)'b', 0xC0, 0x00];
        var offset = 3;
        var wire = new byte[255];
        Assert.True(DnsMessage.TryReadName(message, ref offset, wire, out var length));
        Assert.Equal(7, offset);
        Assert.Equal("b.a", DnsMessage.ToText(wire.AsSpan(0, length)));
    }
}
