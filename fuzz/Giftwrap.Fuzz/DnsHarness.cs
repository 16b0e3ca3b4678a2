// The DNS message parser (Giftwrap.Net's own stub resolver): a datagram as a server would send it,
// read as the answer to the question it echoes (so that afl reaches the answers), as the answer to
// fixed questions, and name by name at every offset. The same bytes as a name to encode into a query.
using System.Buffers.Binary;
using System.Net;
using System.Text;
using Giftwrap.Net.Dns;

namespace Giftwrap.Fuzz;

public static class DnsHarness
{
    private static readonly DnsRecordType[] Types = [DnsRecordType.A, DnsRecordType.Aaaa, DnsRecordType.Ptr];

    public static void Run(byte[] reply)
    {
        var names = new List<string>();
        var addresses = new List<IPAddress>();
        if (EchoedQuery(reply) is { } echoed)
        {
            foreach (var type in Types)
                DnsMessage.ParseReply(reply, echoed, type, names, addresses);
        }
        var id = reply.Length >= 2 ? BinaryPrimitives.ReadUInt16BigEndian(reply) : (ushort)0;
        foreach (var (name, type) in new[] { ("host.example.com", DnsRecordType.A), ("host.example.com", DnsRecordType.Aaaa), ("7.8.9.10.in-addr.arpa", DnsRecordType.Ptr) })
        {
            var query = DnsMessage.BuildQuery(id, name, type)!;
            DnsMessage.ParseReply(reply, query, type, names, addresses);
        }
        Span<byte> wire = stackalloc byte[DnsMessage.MaxWireName];
        for (var start = 0; start < Math.Min(reply.Length, 512); start++)
        {
            var offset = start;
            if (DnsMessage.TryReadName(reply, ref offset, wire, out var length) && DnsMessage.IsHostName(wire[..length]))
                _ = DnsMessage.ToText(wire[..length]);
        }
        var text = Encoding.Latin1.GetString(reply.AsSpan(0, Math.Min(reply.Length, 300)));
        _ = DnsMessage.BuildQuery(id, text, DnsRecordType.A);
        if (IPAddress.TryParse(text, out var address))
            _ = DnsMessage.BuildQuery(id, DnsMessage.ReverseName(address), DnsRecordType.Ptr);
    }

    // The query this reply claims to answer: its id and question, the RD flag of ours.
    private static byte[]? EchoedQuery(byte[] reply)
    {
        const int header = 12;
        if (reply.Length < header)
            return null;
        Span<byte> wire = stackalloc byte[DnsMessage.MaxWireName];
        var offset = header;
        if (!DnsMessage.TryReadName(reply, ref offset, wire, out var length) || offset + 4 > reply.Length)
            return null;
        var query = new byte[header + length + 4];
        reply.AsSpan(0, 2).CopyTo(query);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(2), 0x0100);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(4), 1);
        wire[..length].CopyTo(query.AsSpan(header));
        reply.AsSpan(offset, 4).CopyTo(query.AsSpan(header + length));
        return query;
    }
}
