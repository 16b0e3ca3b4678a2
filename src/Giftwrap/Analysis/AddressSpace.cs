// The two address families as integer ranges (IPv4 as 0..2^32-1, IPv6 as 0..2^128-1),
// and ranges back to the fewest CIDR prefixes.
using System.Buffers.Binary;
using System.Net;

namespace Giftwrap.Analysis;

internal sealed record AddressFamilySpace(int Bits)
{
    public static readonly AddressFamilySpace V4 = new(32);
    public static readonly AddressFamilySpace V6 = new(128);

    public bool IsV4 => Bits == 32;

    public UInt128 Max => Bits == 128 ? UInt128.MaxValue : (UInt128.One << Bits) - 1;

    /// <summary>The range of a prefix of <paramref name="length"/> bits at <paramref name="net"/> (host bits ignored).</summary>
    public (UInt128 Lo, UInt128 Hi) Prefix(UInt128 net, int length)
    {
        var hostBits = Bits - length;
        var span = hostBits >= 128 ? UInt128.MaxValue : (UInt128.One << hostBits) - 1;
        var lo = net & ~span & Max;
        return (lo, lo | span);
    }

    public IPAddress Address(UInt128 value)
    {
        if (IsV4)
            return new IPAddress(BinaryPrimitives.ReverseEndianness((uint)value));
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    public UInt128 Value(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var n);
        return n == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    /// <summary>[lo, hi] as the fewest prefixes, in order.</summary>
    public void AddPrefixes(UInt128 lo, UInt128 hi, List<IPNetwork> into)
    {
        while (true)
        {
            // The largest aligned block at lo that stays within hi.
            var size = lo == 0 ? Bits : (int)UInt128.TrailingZeroCount(lo);
            if (size > Bits)
                size = Bits;
            while (size > 0 && BlockEnd(lo, size) > hi)
                size--;
            into.Add(new IPNetwork(Address(lo), Bits - size));
            var end = BlockEnd(lo, size);
            if (end >= hi)
                return;
            lo = end + 1;
        }
    }

    // lo is aligned to the block, so OR is the sum and cannot overflow.
    private static UInt128 BlockEnd(UInt128 lo, int size) =>
        size >= 128 ? UInt128.MaxValue : lo | ((UInt128.One << size) - 1);
}
