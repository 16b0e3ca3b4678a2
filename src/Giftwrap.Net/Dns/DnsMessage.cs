// Encodes one DNS query and checks one reply (RFC 1035 section 4.1): a single question and
// the PTR, A, AAAA and CNAME records of the answer section; the authority and additional
// sections are not read. SECURITY: every length is checked against the datagram, names are
// at most 255 octets (2.3.4) and compression pointers must point backwards (4.1.4), so a
// hostile reply can neither loop nor make us allocate more than the datagram's size.
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Net.Dns;

/// <summary>The record types this client asks for or follows.</summary>
internal enum DnsRecordType : ushort
{
    A = 1,
    Cname = 5,
    Ptr = 12,
    Aaaa = 28,
}

/// <summary>What a received datagram turned out to be.</summary>
internal enum ReplyStatus
{
    /// <summary>A reply to our question, NOERROR; the records are in the lists (possibly none).</summary>
    Answer,
    /// <summary>A reply to our question: NXDOMAIN.</summary>
    NameError,
    /// <summary>Not a reply to our question (wrong id, not a response, other question, unparsable header): ignore it.</summary>
    NotOurs,
    /// <summary>A reply to our question with TC set.</summary>
    Truncated,
    /// <summary>A reply to our question whose records could not be parsed.</summary>
    Malformed,
    /// <summary>A reply to our question with another RCODE.</summary>
    ServerFailure,
}

internal static class DnsMessage
{
    /// <summary>RFC 1035 2.3.4: a name is at most 255 octets on the wire.</summary>
    internal const int MaxWireName = 255;

    private const int HeaderLength = 12;
    private const ushort ClassIn = 1;
    private const int MaxPointerJumps = 64;

    /// <summary>The reverse-lookup name of an address: <c>d.c.b.a.in-addr.arpa</c> or the ip6.arpa nibbles (RFC 3596 2.5).</summary>
    internal static string ReverseName(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var text = new StringBuilder(72);
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            for (var i = bytes.Length - 1; i >= 0; i--)
                text.Append(bytes[i]).Append('.');
            return text.Append("in-addr.arpa").ToString();
        }
        const string Hex = "0123456789abcdef";
        for (var i = bytes.Length - 1; i >= 0; i--)
            text.Append(Hex[bytes[i] & 0xF]).Append('.').Append(Hex[bytes[i] >> 4]).Append('.');
        return text.Append("ip6.arpa").ToString();
    }

    /// <summary>Encodes a dotted name as labels; false when it cannot be a DNS name (empty label, label over 63, name over 255, non-ASCII).</summary>
    internal static bool TryEncodeName(string name, Span<byte> destination, out int written)
    {
        written = 0;
        if (name.EndsWith('.'))
            name = name[..^1];
        if (name.Length == 0 || name.Length + 2 > MaxWireName || name.Length + 2 > destination.Length)
            return false;
        foreach (var range in name.AsSpan().Split('.'))
        {
            var label = name.AsSpan(range);
            if (label.Length is 0 or > 63)
                return false;
            destination[written++] = (byte)label.Length;
            foreach (var c in label)
            {
                if (c > 0x7E)
                    return false;
                destination[written++] = (byte)c;
            }
        }
        destination[written++] = 0;
        return true;
    }

    /// <summary>A recursive query (RD set) for one name and type, class IN; null when the name cannot be encoded.</summary>
    internal static byte[]? BuildQuery(ushort id, string name, DnsRecordType type)
    {
        Span<byte> wireName = stackalloc byte[MaxWireName];
        if (!TryEncodeName(name, wireName, out var nameLength))
            return null;
        var query = new byte[HeaderLength + nameLength + 4];
        BinaryPrimitives.WriteUInt16BigEndian(query, id);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(2), 0x0100);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(4), 1);
        wireName[..nameLength].CopyTo(query.AsSpan(HeaderLength));
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(HeaderLength + nameLength), (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(query.AsSpan(HeaderLength + nameLength + 2), ClassIn);
        return query;
    }

    /// <summary>
    /// Checks that <paramref name="reply"/> answers <paramref name="query"/> (same id, a response, the same
    /// single question) and collects its answers of <paramref name="type"/> whose owner is the question's
    /// name or a CNAME reached from it. Never throws on any input.
    /// </summary>
    internal static ReplyStatus ParseReply(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> query, DnsRecordType type,
        List<string> names, List<IPAddress> addresses)
    {
        var header = CheckHeaderAndQuestion(reply, query, out var offset, out var flags, out var answerCount);
        if (header != ReplyStatus.Answer)
            return header;
        if ((flags & 0x0200) != 0)
            return ReplyStatus.Truncated;
        switch (flags & 0x000F)
        {
            case 0: break;
            case 3: return ReplyStatus.NameError;
            default: return ReplyStatus.ServerFailure;
        }
        return ReadAnswers(reply, offset, answerCount, query[HeaderLength..^4], type, names, addresses);
    }

    private static ReplyStatus CheckHeaderAndQuestion(ReadOnlySpan<byte> reply, ReadOnlySpan<byte> query,
        out int offset, out ushort flags, out int answerCount)
    {
        offset = HeaderLength;
        flags = 0;
        answerCount = 0;
        if (reply.Length < HeaderLength || query.Length < HeaderLength + 5)
            return ReplyStatus.NotOurs;
        flags = BinaryPrimitives.ReadUInt16BigEndian(reply[2..]);
        var isResponse = (flags & 0x8000) != 0 && ((flags >> 11) & 0xF) == 0;
        if (!isResponse || !reply[..2].SequenceEqual(query[..2]) || BinaryPrimitives.ReadUInt16BigEndian(reply[4..]) != 1)
            return ReplyStatus.NotOurs;
        answerCount = BinaryPrimitives.ReadUInt16BigEndian(reply[6..]);
        Span<byte> name = stackalloc byte[MaxWireName];
        if (!TryReadName(reply, ref offset, name, out var nameLength) || offset + 4 > reply.Length)
            return ReplyStatus.NotOurs;
        // RFC 5452 9.1: the question must come back as asked (names compared without regard to case).
        var asked = query[HeaderLength..];
        var same = SameName(name[..nameLength], asked[..^4]) && reply.Slice(offset, 4).SequenceEqual(asked[^4..]);
        offset += 4;
        return same ? ReplyStatus.Answer : ReplyStatus.NotOurs;
    }

    private static ReplyStatus ReadAnswers(ReadOnlySpan<byte> reply, int offset, int answerCount, ReadOnlySpan<byte> questionName,
        DnsRecordType type, List<string> names, List<IPAddress> addresses)
    {
        // Owners we accept: the question's name and the CNAME targets reached from it, in answer order.
        var owners = new List<byte[]> { questionName.ToArray() };
        Span<byte> owner = stackalloc byte[MaxWireName];
        Span<byte> target = stackalloc byte[MaxWireName];
        for (var i = 0; i < answerCount; i++)
        {
            if (!TryReadName(reply, ref offset, owner, out var ownerLength) || offset + 10 > reply.Length)
                return ReplyStatus.Malformed;
            var rrType = (DnsRecordType)BinaryPrimitives.ReadUInt16BigEndian(reply[offset..]);
            var rrClass = BinaryPrimitives.ReadUInt16BigEndian(reply[(offset + 2)..]);
            int dataLength = BinaryPrimitives.ReadUInt16BigEndian(reply[(offset + 8)..]);
            var data = offset + 10;
            offset = data + dataLength;
            if (offset > reply.Length)
                return ReplyStatus.Malformed;
            if (rrClass != ClassIn || !IsOwner(owners, owner[..ownerLength]))
                continue;
            if (rrType is DnsRecordType.Cname or DnsRecordType.Ptr)
            {
                var nameOffset = data;
                if (!TryReadName(reply, ref nameOffset, target, out var targetLength) || nameOffset != offset)
                    return ReplyStatus.Malformed;
                if (rrType == DnsRecordType.Cname)
                    owners.Add(target[..targetLength].ToArray());
                else if (type == DnsRecordType.Ptr && IsHostName(target[..targetLength]))
                    names.Add(ToText(target[..targetLength]));
            }
            else if (rrType == type && rrType is DnsRecordType.A or DnsRecordType.Aaaa)
            {
                if (dataLength != (rrType == DnsRecordType.A ? 4 : 16))
                    return ReplyStatus.Malformed;
                addresses.Add(new IPAddress(reply.Slice(data, dataLength)));
                if (names.Count == 0)
                {
                    // getaddrinfo's ai_canonname: the name the address records belong to, after the CNAMEs.
                    names.Add(ToText(owner[..ownerLength]));
                }
            }
        }
        return ReplyStatus.Answer;
    }

    /// <summary>
    /// Reads a possibly compressed name at <paramref name="offset"/> into its uncompressed wire form and moves
    /// <paramref name="offset"/> past it. False for anything out of bounds, over 255 octets, with a forward or
    /// looping pointer, or with the reserved label types 01 and 10.
    /// </summary>
    internal static bool TryReadName(ReadOnlySpan<byte> message, ref int offset, Span<byte> wire, out int length)
    {
        length = 0;
        var position = offset;
        var jumps = 0;
        var jumped = false;
        while (position < message.Length)
        {
            var b = message[position];
            if ((b & 0xC0) == 0xC0)
            {
                if (position + 1 >= message.Length || ++jumps > MaxPointerJumps)
                    return false;
                var pointer = ((b & 0x3F) << 8) | message[position + 1];
                if (!jumped)
                {
                    offset = position + 2;
                    jumped = true;
                }
                // Only backward pointers: a name can then never point into itself.
                if (pointer >= position)
                    return false;
                position = pointer;
                continue;
            }
            if ((b & 0xC0) != 0 || length + 1 + b > MaxWireName || position + 1 + b > message.Length || length + 1 + b > wire.Length)
                return false;
            message.Slice(position, 1 + b).CopyTo(wire[length..]);
            length += 1 + b;
            position += 1 + b;
            if (b == 0)
            {
                if (!jumped)
                    offset = position;
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// glibc's res_hnok() as its DNS backend applies it to PTR targets (resolv/res-name-checking.c): every
    /// label made of letters, digits, '-' and '_', the name not starting with '-'. glibc drops other PTR
    /// answers, so getnameinfo(NI_NAMEREQD) fails and libwrap's client stays "unknown" (checked with the
    /// real libwrap and a loopback DNS server: "h\xc3\xb4te", "semi;colon" and a label holding a dot are
    /// unknown, "under_score" and "UPPER.Example" are names).
    /// </summary>
    internal static bool IsHostName(ReadOnlySpan<byte> wire)
    {
        if (wire.Length < 2 || wire[0] == 0 || wire[1] == (byte)'-')
            return false;
        var position = 0;
        while (position < wire.Length && wire[position] != 0)
        {
            int labelLength = wire[position];
            foreach (var b in wire.Slice(position + 1, labelLength))
            {
                if (!(char.IsAsciiLetterOrDigit((char)b) || b is (byte)'-' or (byte)'_'))
                    return false;
            }
            position += 1 + labelLength;
        }
        return true;
    }

    /// <summary>The dotted text of a wire name; each octet becomes one char (Latin-1), so nothing is lost or hidden.</summary>
    internal static string ToText(ReadOnlySpan<byte> wire)
    {
        var text = new StringBuilder(wire.Length);
        var position = 0;
        while (position < wire.Length && wire[position] != 0)
        {
            int labelLength = wire[position];
            if (text.Length > 0)
                text.Append('.');
            foreach (var b in wire.Slice(position + 1, labelLength))
                text.Append((char)b);
            position += 1 + labelLength;
        }
        return text.ToString();
    }

    private static bool IsOwner(List<byte[]> owners, ReadOnlySpan<byte> name)
    {
        foreach (var candidate in owners)
        {
            if (SameName(candidate, name))
                return true;
        }
        return false;
    }

    /// <summary>RFC 4343: names compare without regard to ASCII case.</summary>
    private static bool SameName(ReadOnlySpan<byte> left, ReadOnlySpan<byte> right)
    {
        if (left.Length != right.Length)
            return false;
        for (var i = 0; i < left.Length; i++)
        {
            if (Fold(left[i]) != Fold(right[i]))
                return false;
        }
        return true;
    }

    private static byte Fold(byte b) => b is >= (byte)'A' and <= (byte)'Z' ? (byte)(b | 0x20) : b;
}
