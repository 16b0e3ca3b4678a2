// The nft scripts Giftwrap sends: the whole table (created, deleted and made again in one
// transaction, so a reader never sees it half built and a foreign edit is wiped), and the
// incremental batches of element deletions and additions. Every script goes to one
// `nft -f -`, which the kernel applies as one netlink transaction: all of it or nothing.
// Only `table inet giftwrap` is ever named; no line here touches another table.
using System.Globalization;
using System.Text;

namespace Giftwrap.Kernel;

/// <summary>One daemon's address rules in the kernel: its ports and the ranges the tables refuse whatever the lookups say.</summary>
internal sealed record DaemonRefusals(string Daemon, IReadOnlyList<int> Ports, IReadOnlyList<string> Refused4, IReadOnlyList<string> Refused6);

internal static class NftScript
{
    private const string T = "inet " + KernelOptions.Table;

    /// <summary>The name of daemon number <paramref name="index"/>'s refusal set (daemon names may hold characters nft refuses).</summary>
    public static string RefusalSet(int index, bool v6) => $"r{index.ToString(CultureInfo.InvariantCulture)}_{(v6 ? 6 : 4)}";

    /// <summary>The whole table: sets, the input chain's rules, and every element of <paramref name="view"/>.</summary>
    public static string Table(KernelView view, IReadOnlyList<int> banPorts, IReadOnlyList<DaemonRefusals> daemons, long nowMs)
    {
        var sb = new StringBuilder();
        // "table ... {}" first makes the delete succeed when the table is absent (nft has no "delete if exists" in 1.0.6).
        sb.Append("table ").Append(T).Append(" {}\n");
        sb.Append("delete table ").Append(T).Append('\n');
        sb.Append("table ").Append(T).Append(" {\n");
        sb.Append("  set ").Append(KernelView.Addresses4).Append(" { type ipv4_addr; flags timeout; }\n");
        sb.Append("  set ").Append(KernelView.Addresses6).Append(" { type ipv6_addr; flags timeout; }\n");
        sb.Append("  set ").Append(KernelView.Networks4).Append(" { type ipv4_addr; flags interval, timeout; }\n");
        sb.Append("  set ").Append(KernelView.Networks6).Append(" { type ipv6_addr; flags interval, timeout; }\n");
        for (var i = 0; i < daemons.Count; i++)
        {
            sb.Append("  set ").Append(RefusalSet(i, false)).Append(" { type ipv4_addr; flags interval; auto-merge; comment \"").Append(Quote(daemons[i].Daemon)).Append("\"; }\n");
            sb.Append("  set ").Append(RefusalSet(i, true)).Append(" { type ipv6_addr; flags interval; auto-merge; comment \"").Append(Quote(daemons[i].Daemon)).Append("\"; }\n");
        }
        // Priority filter - 10: before the usual filter chains, so a ban holds even where another
        // table accepts the port (a drop in any base chain is final; an accept is not).
        sb.Append("  chain input {\n    type filter hook input priority filter - 10; policy accept;\n");
        var match = banPorts.Count == 0 ? "meta l4proto tcp" : $"tcp dport {{ {string.Join(", ", banPorts)} }}";
        foreach (var (family, set) in new[] { ("ip", KernelView.Addresses4), ("ip", KernelView.Networks4), ("ip6", KernelView.Addresses6), ("ip6", KernelView.Networks6) })
            sb.Append("    ").Append(match).Append(' ').Append(family).Append(" saddr @").Append(set).Append(" drop\n");
        for (var i = 0; i < daemons.Count; i++)
        {
            var ports = string.Join(", ", daemons[i].Ports);
            sb.Append("    tcp dport { ").Append(ports).Append(" } ip saddr @").Append(RefusalSet(i, false)).Append(" drop\n");
            sb.Append("    tcp dport { ").Append(ports).Append(" } ip6 saddr @").Append(RefusalSet(i, true)).Append(" drop\n");
        }
        sb.Append("  }\n}\n");
        AppendElements(sb, "add", view.Elements.Values, nowMs);
        for (var i = 0; i < daemons.Count; i++)
        {
            AppendPlain(sb, RefusalSet(i, false), daemons[i].Refused4);
            AppendPlain(sb, RefusalSet(i, true), daemons[i].Refused6);
        }
        return sb.ToString();
    }

    /// <summary>One transaction: the deletions, then the additions (an extended ban is deleted and added with its new timeout).</summary>
    public static string Changes(IEnumerable<KernelElement> delete, IEnumerable<KernelElement> add, long nowMs)
    {
        var sb = new StringBuilder();
        AppendElements(sb, "delete", delete, nowMs);
        AppendElements(sb, "add", add, nowMs);
        return sb.ToString();
    }

    /// <summary>The table removed (only ours).</summary>
    public static string Remove() => $"table {T} {{}}\ndelete table {T}\n";

    private static void AppendElements(StringBuilder sb, string verb, IEnumerable<KernelElement> elements, long nowMs)
    {
        foreach (var group in elements.GroupBy(e => e.Set, StringComparer.Ordinal))
        {
            sb.Append(verb).Append(" element ").Append(T).Append(' ').Append(group.Key).Append(" {");
            var first = true;
            foreach (var e in group)
            {
                sb.Append(first ? " " : ",\n  ").Append(e.Value);
                first = false;
                // A deletion names the element only; an addition carries the time the ban has left.
                if (verb == "add" && e.ExpiresMs is { } x)
                    sb.Append(" timeout ").Append(Math.Max(1, x - nowMs).ToString(CultureInfo.InvariantCulture)).Append("ms");
            }
            sb.Append(" }\n");
        }
    }

    private static void AppendPlain(StringBuilder sb, string set, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
            return;
        sb.Append("add element ").Append(T).Append(' ').Append(set).Append(" { ").Append(string.Join(",\n  ", values)).Append(" }\n");
    }

    // A comment is shown by `nft list`; a daemon name with a quote or backslash must not end it.
    private static string Quote(string s) => new([.. s.Where(c => c is not ('"' or '\\') && !char.IsControl(c))]);
}
