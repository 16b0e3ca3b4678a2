// What the access tables decide from a client address alone, for one daemon: the
// ranges they refuse whatever any lookup says (the kernel may drop those), and every
// other range with the rule that kept it out of the kernel. Data only; AddressRules
// computes it, the kernel helper turns it into nftables sets.
using System.Net;
using System.Net.Sockets;

namespace Giftwrap.Analysis;

/// <summary>An address range left to user space, and why.</summary>
/// <param name="Range">The client addresses (IPv4, or IPv6 outside <c>::ffff:0:0/96</c>).</param>
/// <param name="Reason">Why the range may be granted or needs more than a drop (e.g. "may match: depends on the client host name").</param>
/// <param name="File">The table of the rule that kept the range out, or empty when no rule matches it (granted by default).</param>
/// <param name="Line">The line of that rule, 0 when none.</param>
public sealed record HeldRange(IPNetwork Range, string Reason, string File, int Line);

/// <summary>
/// The client address ranges of one daemon that the tables refuse whatever the lookups would say
/// (<see cref="Refused"/>), and all other ranges with the reason they were kept out (<see cref="Held"/>).
/// Both lists are sorted, merged into as few prefixes as possible, and together cover every IPv4 and
/// IPv6 address; IPv4-mapped IPv6 addresses are decided as their IPv4 form, as libwrap compares them,
/// so <c>::ffff:0:0/96</c> appears in neither list.
/// </summary>
public sealed class AddressVerdicts
{
    private readonly FamilyVerdicts _v4;
    private readonly FamilyVerdicts _v6;
    private readonly Lazy<IReadOnlyList<HeldRange>> _held;

    internal AddressVerdicts(string daemon, int serverPort, FamilyVerdicts v4, FamilyVerdicts v6)
    {
        Daemon = daemon;
        ServerPort = serverPort;
        _v4 = v4;
        _v6 = v6;
        Refused = [.. v4.Refused(), .. v6.Refused()];
        // Held ranges between scattered refusals run to millions of prefixes for a 100,000-line hosts.deny:
        // listed only when asked for; HeldFor finds one range without them.
        _held = new Lazy<IReadOnlyList<HeldRange>>(() => [.. v4.Held(), .. v6.Held()]);
    }

    /// <summary>The daemon name the verdicts are for.</summary>
    public string Daemon { get; }

    /// <summary>The server port the verdicts are for, 0 for any port.</summary>
    public int ServerPort { get; }

    /// <summary>Prefixes the tables refuse whatever the lookups say, with no rule effects to carry out: safe to drop.</summary>
    public IReadOnlyList<IPNetwork> Refused { get; }

    /// <summary>Every other range, with the reason and the rule (file:line) that kept it out of <see cref="Refused"/>.</summary>
    public IReadOnlyList<HeldRange> Held => _held.Value;

    /// <summary>Whether <paramref name="address"/> lies in a refused range (an IPv4-mapped address as its IPv4 form).</summary>
    public bool IsRefused(IPAddress address) => HeldFor(address) is null;

    /// <summary>The held range containing <paramref name="address"/>, or <c>null</c> when the address is refused.</summary>
    public HeldRange? HeldFor(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        var family = address.AddressFamily == AddressFamily.InterNetwork ? _v4 : _v6;
        return family.HeldFor(family.Space.Value(address));
    }

    /// <summary>
    /// Whether <paramref name="network"/> holds <paramref name="address"/>, families compared as they are:
    /// .NET 10's IPNetwork.Contains says 1000::/4 holds ::ffff:10.0.0.1, and 0.0.0.0/0 holds it too.
    /// </summary>
    internal static bool Covers(IPNetwork network, IPAddress address)
    {
        if (network.BaseAddress.AddressFamily != address.AddressFamily)
            return false;
        Span<byte> a = stackalloc byte[16];
        Span<byte> n = stackalloc byte[16];
        address.TryWriteBytes(a, out var length);
        network.BaseAddress.TryWriteBytes(n, out _);
        var bits = network.PrefixLength;
        for (var i = 0; i < length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xff : 0xff << (8 - bits) & 0xff;
            if ((a[i] & mask) != (n[i] & mask))
                return false;
        }
        return true;
    }
}

/// <summary>What became of a range: refused by a rule, or held with a reason (empty: decided elsewhere, e.g. as IPv4).</summary>
internal sealed record RangeOutcome(bool Refused, string Reason, string File, int Line)
{
    public static readonly RangeOutcome Elsewhere = new(false, "", "", 0);
}

/// <summary>One family's address space as sorted segments covering it, each with its outcome.</summary>
internal sealed class FamilyVerdicts(AddressFamilySpace space, (UInt128 Lo, UInt128 Hi, int Outcome)[] segments, RangeOutcome[] outcomes)
{
    public AddressFamilySpace Space => space;

    /// <summary>Refused segments merged across rules, as the fewest prefixes.</summary>
    public List<IPNetwork> Refused()
    {
        var result = new List<IPNetwork>();
        var i = 0;
        while (i < segments.Length)
        {
            if (!outcomes[segments[i].Outcome].Refused)
            {
                i++;
                continue;
            }
            var lo = segments[i].Lo;
            var hi = segments[i].Hi;
            while (++i < segments.Length && outcomes[segments[i].Outcome].Refused)
                hi = segments[i].Hi;
            space.AddPrefixes(lo, hi, result);
        }
        return result;
    }

    public IEnumerable<HeldRange> Held()
    {
        var nets = new List<IPNetwork>();
        foreach (var (lo, hi, index) in segments)
        {
            var o = outcomes[index];
            if (o.Refused || o.Reason.Length == 0)
                continue;
            nets.Clear();
            space.AddPrefixes(lo, hi, nets);
            foreach (var n in nets)
                yield return new HeldRange(n, o.Reason, o.File, o.Line);
        }
    }

    public HeldRange? HeldFor(UInt128 value)
    {
        int lo = 0, hi = segments.Length - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (segments[mid].Lo <= value)
                lo = mid;
            else
                hi = mid - 1;
        }
        var s = segments[lo];
        var o = outcomes[s.Outcome];
        if (o.Refused)
            return null;
        var nets = new List<IPNetwork>();
        space.AddPrefixes(s.Lo, s.Hi, nets);
        var address = space.Address(value);
        return nets.Where(n => AddressVerdicts.Covers(n, address)).Select(n => new HeldRange(n, o.Reason, o.File, o.Line)).First();
    }
}
