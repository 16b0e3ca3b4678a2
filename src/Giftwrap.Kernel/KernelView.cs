// What the kernel's sets must hold for a list of active bans: pure data, no nft. Single
// addresses go to hash sets (a4/a6), prefixes to interval sets (n4/n6), each element with
// the ban's absolute expiry. Protected addresses never reach a set: a prefix that covers
// one is split into the largest prefixes around it. Interval sets refuse overlapping
// elements, so a prefix inside a banned prefix is left out while the outer one holds; when
// the inner ban outlives the outer, NextChange says when to look again.
// Not here: daemon-specific bans (`ban ... --daemon sshd`) stay with user space, which
// knows the daemon; the kernel only drops what every daemon would refuse.
using Giftwrap.Bans;

namespace Giftwrap.Kernel;

/// <summary>One element of one of Giftwrap's sets: the set's name, the element as nft writes it, and its expiry (null: permanent).</summary>
internal readonly record struct KernelElement(string Set, string Value, long? ExpiresMs)
{
    public string Key => $"{Set} {Value}";
}

/// <summary>The elements the kernel must hold, and the time at which a shadowed ban comes out from under an expiring one.</summary>
internal sealed record KernelView(IReadOnlyDictionary<string, KernelElement> Elements, long? NextChangeMs, int LeftToUserSpace)
{
    public const string Addresses4 = "a4";
    public const string Addresses6 = "a6";
    public const string Networks4 = "n4";
    public const string Networks6 = "n6";

    public static KernelView Build(IEnumerable<BanEntry> active, IReadOnlyList<BanTarget> protect, long nowMs)
    {
        var elements = new Dictionary<string, KernelElement>(StringComparer.Ordinal);
        var prefixes = new List<BanEntry>();
        var userSpace = 0;
        foreach (var e in active)
        {
            var expires = e.Expires?.ToUnixTimeMilliseconds();
            if (expires <= nowMs)
                continue;
            if (e.Daemons is not null)
            {
                userSpace++;
                continue;
            }
            if (!e.Target.IsSingleAddress)
            {
                prefixes.Add(e);
                continue;
            }
            if (protect.Any(p => p.Overlaps(e.Target)))
                continue;
            Add(elements, new KernelElement(e.Target.IsIPv4 ? Addresses4 : Addresses6, e.Target.ToString(), KernelExpiry(expires, nowMs)));
        }
        // Per family: an IPv6 ban shorter than /96 holds the IPv4-mapped space, where the store matches
        // no IPv4 client (BanTable looks only at /96 and longer for them). It neither hides an IPv4 ban
        // as "nested" nor, cut around a protected IPv4 address, yields IPv4 pieces the store never bans.
        var next4 = Outermost([.. prefixes.Where(p => p.Target.IsIPv4)], out var kept4);
        var next6 = Outermost([.. prefixes.Where(p => !p.Target.IsIPv4)], out var kept6);
        var next = next4 is { } a && next6 is { } b ? Math.Min(a, b) : next4 ?? next6;
        foreach (var e in kept4.Concat(kept6))
        {
            foreach (var piece in Subtract(e.Target, protect).Where(p => p.IsIPv4 == e.Target.IsIPv4))
                Add(elements, new KernelElement(piece.IsIPv4 ? Networks4 : Networks6, piece.ToString(), KernelExpiry(e.Expires?.ToUnixTimeMilliseconds(), nowMs)));
        }
        return new KernelView(elements, next, userSpace);
    }

    private static void Add(Dictionary<string, KernelElement> elements, KernelElement e) => elements[e.Key] = e;

    /// <summary>The longest timeout given to the kernel: it refuses one past about 584 years (ERANGE).</summary>
    internal static readonly long LongestTimeoutMs = (long)TimeSpan.FromDays(100 * 365.25).TotalMilliseconds;

    /// <summary>
    /// A ban's expiry as the kernel holds it: a ban lasting longer than <see cref="LongestTimeoutMs"/>
    /// (a decision of ten thousand years, the store's last instant) is an element without timeout,
    /// which the reconciler deletes once the store's ban is over.
    /// </summary>
    private static long? KernelExpiry(long? expires, long nowMs) => expires - nowMs > LongestTimeoutMs ? null : expires;

    /// <summary>
    /// The prefixes no other banned prefix contains (interval sets take no overlaps). Sorted by
    /// network then length, a contained prefix follows its container, and the kept ones are
    /// disjoint: the last kept one is the only candidate container.
    /// </summary>
    private static long? Outermost(List<BanEntry> prefixes, out List<BanEntry> kept)
    {
        kept = [];
        long? next = null;
        foreach (var e in prefixes.OrderBy(p => p.Target.Bits).ThenBy(p => p.Target.Prefix))
        {
            if (kept.Count > 0 && kept[^1].Target.Overlaps(e.Target))
            {
                var outer = kept[^1].Expires?.ToUnixTimeMilliseconds();
                var inner = e.Expires?.ToUnixTimeMilliseconds();
                // The inner ban outlives the outer one: the kernel must get it when the outer expires.
                if (outer is { } o && (inner is null || inner > o))
                    next = next is { } n ? Math.Min(n, o) : o;
                continue;
            }
            kept.Add(e);
        }
        return next;
    }

    /// <summary>
    /// <paramref name="target"/> without the protected addresses: itself when none overlaps it,
    /// nothing when one contains it, else its two halves, each treated the same way.
    /// </summary>
    internal static IEnumerable<BanTarget> Subtract(BanTarget target, IReadOnlyList<BanTarget> protect)
    {
        if (!protect.Any(p => p.Overlaps(target)))
        {
            yield return target;
            yield break;
        }
        if (protect.Any(p => p.Prefix <= target.Prefix && p.Overlaps(target)))
            yield break;
        var half = target.Prefix + 1;
        foreach (var t in Subtract(new BanTarget(target.Bits, half), protect))
            yield return t;
        foreach (var t in Subtract(new BanTarget(target.Bits | (UInt128.One << (128 - half)), half), protect))
            yield return t;
    }
}
