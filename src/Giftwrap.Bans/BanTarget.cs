// What a ban applies to: one address or a CIDR prefix, IPv4 or IPv6, parsed once into
// a normalised value. IPv4 lives inside the IPv4-mapped IPv6 space (::ffff:0:0/96), so
// one 128-bit key and one prefix length describe both families; IPv4-mapped input is
// shown and stored as plain IPv4. Parsing refuses anything ambiguous (inet_aton's
// "10.1", host bits set, scope ids) rather than guessing what the administrator meant.
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Bans;

/// <summary>An address or prefix that a ban covers.</summary>
public readonly record struct BanTarget
{
    private static readonly UInt128 MappedTag = (UInt128)0xFFFF << 32;

    internal BanTarget(UInt128 bits, int prefix)
    {
        Bits = bits & Mask(prefix);
        Prefix = (byte)prefix;
    }

    /// <summary>The address bits in the unified (IPv4-mapped) 128-bit space, host bits cleared.</summary>
    internal UInt128 Bits { get; }

    /// <summary>The prefix length in the unified 128-bit space (an IPv4 /24 is 120).</summary>
    internal byte Prefix { get; }

    /// <summary>True for IPv4 targets (written as a.b.c.d[/n]).</summary>
    public bool IsIPv4 => Prefix >= 96 && (Bits >> 32) == 0xFFFF;

    /// <summary>The prefix length in the target's own family: 0..32 for IPv4, 0..128 for IPv6.</summary>
    public int PrefixLength => IsIPv4 ? Prefix - 96 : Prefix;

    /// <summary>True when the target is one address (/32 or /128).</summary>
    public bool IsSingleAddress => Prefix == 128;

    /// <summary>The network address (the address itself for a single address).</summary>
    public IPAddress Address => ToAddress(Bits, IsIPv4);

    /// <summary>The target of one address (IPv4-mapped IPv6 becomes IPv4).</summary>
    public static BanTarget FromAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return new BanTarget(ToBits(address), 128);
    }

    /// <summary>Parses "a.b.c.d", "a.b.c.d/n", "x::y", "x::/n" or "[x::]/n".</summary>
    public static BanTarget Parse(string text) =>
        TryParse(text, out var t, out var error) ? t : throw new FormatException(error);

    /// <summary>Parses a target; on failure <paramref name="error"/> says why, in words for an administrator.</summary>
    public static bool TryParse(string? text, out BanTarget target, out string error)
    {
        target = default;
        var t = (text ?? "").Trim();
        if (t.Length == 0)
        {
            error = "empty address";
            return false;
        }
        var slash = t.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? t : t[..slash];
        if (addressText.StartsWith('[') && addressText.EndsWith(']'))
            addressText = addressText[1..^1];
        if (!TryParseAddress(addressText, out var address))
        {
            error = $"\"{t}\" is not an IPv4 or IPv6 address or prefix";
            return false;
        }
        var givenAsV4 = address.AddressFamily == AddressFamily.InterNetwork;
        var bits = ToBits(address);
        var max = givenAsV4 ? 32 : 128;
        var length = max;
        if (slash >= 0)
        {
            var lengthText = t[(slash + 1)..];
            if (lengthText.Length is 0 or > 3 || !lengthText.All(char.IsAsciiDigit)
                || !int.TryParse(lengthText, NumberStyles.None, CultureInfo.InvariantCulture, out length) || length > max)
            {
                error = $"\"{t}\": prefix length must be 0..{max}";
                return false;
            }
        }
        var unified = givenAsV4 ? length + 96 : length;
        if ((bits & ~Mask(unified)) != 0)
        {
            var suggestion = new BanTarget(bits, unified);
            error = $"\"{t}\": host bits are set after the /{length} prefix (did you mean {suggestion}?)";
            return false;
        }
        target = new BanTarget(bits, unified);
        error = "";
        return true;
    }

    /// <summary>True when <paramref name="address"/> is inside this target.</summary>
    public bool Contains(IPAddress address) => Contains(ToBits(address));

    internal bool Contains(UInt128 bits) => (bits & Mask(Prefix)) == Bits;

    /// <summary>True when the two targets share at least one address (one contains the other).</summary>
    public bool Overlaps(BanTarget other)
    {
        var shorter = Math.Min(Prefix, other.Prefix);
        return (Bits & Mask(shorter)) == (other.Bits & Mask(shorter));
    }

    /// <summary>The target as written on the command line and in the store: 192.0.2.1, 10.0.0.0/8, 2001:db8::/64.</summary>
    public override string ToString()
    {
        var a = Address.ToString();
        return IsSingleAddress ? a : $"{a}/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>
    /// The target as a hosts_access(5) client pattern libwrap understands: IPv4 as
    /// n.n.n.n/m.m.m.m (tcp_wrappers 7.6 has no /len for IPv4), IPv6 in brackets.
    /// </summary>
    public string ToHostsPattern()
    {
        if (!IsIPv4)
            return IsSingleAddress ? $"[{Address}]" : $"[{Address}]/{PrefixLength.ToString(CultureInfo.InvariantCulture)}";
        if (IsSingleAddress)
            return Address.ToString();
        var mask = (uint)(Mask(Prefix) & uint.MaxValue);
        return $"{Address}/{ToAddress(MappedTag | mask, true)}";
    }

    internal static UInt128 Mask(int prefix) => prefix <= 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix);

    internal static UInt128 ToBits(IPAddress address)
    {
        Span<byte> b = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(b[12..], out _);
            b[10] = 0xFF;
            b[11] = 0xFF;
        }
        else
        {
            address.TryWriteBytes(b, out _);
        }
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b);
    }

    internal static IPAddress ToAddress(UInt128 bits, bool v4)
    {
        Span<byte> b = stackalloc byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, bits);
        return v4 ? new IPAddress(b[12..]) : new IPAddress(b);
    }

    private static bool TryParseAddress(string text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Length == 0 || text.Contains('%', StringComparison.Ordinal))
            return false;
        if (text.Contains(':', StringComparison.Ordinal))
            return IPAddress.TryParse(text, out address!) && address.AddressFamily == AddressFamily.InterNetworkV6;
        // Only the four-part dotted quad: IPAddress.TryParse also takes inet_aton's
        // "10.1" and "0x7f.1" (and octal "010"), which read as something else than the administrator wrote.
        var parts = text.Split('.');
        if (parts.Length != 4 || parts.Any(p => p.Length is 0 or > 3 || !p.All(char.IsAsciiDigit) || (p.Length > 1 && p[0] == '0')))
            return false;
        return IPAddress.TryParse(text, out address!) && address.AddressFamily == AddressFamily.InterNetwork;
    }
}
