// The nft scripts Giftwrap sends: the whole table (created, deleted and made again in one
// transaction, so a reader never sees it half built and a foreign edit is wiped), and the
// incremental batches of element deletions and additions. Every script goes to one
// `nft -f -`, which the kernel applies as one netlink transaction: all of it or nothing.
// Only `table inet giftwrap` is ever named; no line here touches another table.
// The drops sit in prerouting before conntrack (KernelHook), for this host's own addresses only.
using System.Globalization;
using System.Text;

namespace Giftwrap.Kernel;

/// <summary>One daemon's address rules in the kernel: its ports and the ranges the tables refuse whatever the lookups say.</summary>
internal sealed record DaemonRefusals(string Daemon, IReadOnlyList<int> Ports, IReadOnlyList<string> Refused4, IReadOnlyList<string> Refused6);

/// <summary>Where the table's drop chain hangs.</summary>
internal enum KernelHook
{
    /// <summary>
    /// Prerouting at priority raw - 10 (-310), for packets addressed to this host (`fib daddr
    /// type local`): after defragmentation (-400), so the TCP header of a fragmented SYN is there
    /// to match, and before conntrack (-200), so a dropped SYN never costs a conntrack entry.
    /// Routed traffic to the same ports is left alone: the kernel rules guard this host only.
    /// </summary>
    Prerouting,

    /// <summary>The input hook at priority filter - 10: the fallback for a kernel without nft's fib expression (only local packets reach it).</summary>
    Input,
}

internal static class NftScript
{
    private const string T = "inet " + KernelOptions.Table;

    // Last in each rule: the cheap port and set lookups leave only banned sources to the route lookup.
    private const string Local = "fib daddr type local";

    /// <summary>The name of daemon number <paramref name="index"/>'s refusal set (daemon names may hold characters nft refuses).</summary>
    public static string RefusalSet(int index, bool v6) => $"r{index.ToString(CultureInfo.InvariantCulture)}_{(v6 ? 6 : 4)}";

    /// <summary>The name of the drop chain for <paramref name="hook"/> (the hook's own name).</summary>
    public static string Chain(KernelHook hook) => hook == KernelHook.Prerouting ? "prerouting" : "input";

    /// <summary>The chain's declaration as `nft list` shows it.</summary>
    public static string Declaration(KernelHook hook) =>
        hook == KernelHook.Prerouting ? "type filter hook prerouting priority raw - 10" : "type filter hook input priority filter - 10";

    /// <summary>
    /// A check-only batch (for `nft -c -f -`, nothing is committed) that the kernel accepts only
    /// when it has the prerouting hook and the fib expression the drop chain needs.
    /// </summary>
    public static string Probe() =>
        $"table {T} {{\n  chain fib_probe {{\n    {Declaration(KernelHook.Prerouting)}; policy accept;\n    meta l4proto tcp {Local} drop\n  }}\n}}\n";

    /// <summary>The whole table: sets, the drop chain's rules, and every element of <paramref name="view"/>.</summary>
    public static string Table(KernelView view, IReadOnlyList<int> banPorts, IReadOnlyList<DaemonRefusals> daemons, long nowMs, KernelHook hook = KernelHook.Prerouting)
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
            sb.Append("  set ").Append(RefusalSet(i, false)).Append(" { type ipv4_addr; flags interval; auto-merge; comment \"").Append(Comment(daemons[i].Daemon)).Append("\"; }\n");
            sb.Append("  set ").Append(RefusalSet(i, true)).Append(" { type ipv6_addr; flags interval; auto-merge; comment \"").Append(Comment(daemons[i].Daemon)).Append("\"; }\n");
        }
        // Before every usual filter chain (and, in prerouting, before conntrack), so a ban holds
        // even where another table accepts the port: a drop in any base chain is final; an accept is not.
        sb.Append("  chain ").Append(Chain(hook)).Append(" {\n    ").Append(Declaration(hook)).Append("; policy accept;\n");
        // The input hook sees only this host's packets; prerouting also sees routed ones, left alone.
        var drop = hook == KernelHook.Prerouting ? $" {Local} drop\n" : " drop\n";
        var match = banPorts.Count == 0 ? "meta l4proto tcp" : $"tcp dport {{ {string.Join(", ", banPorts)} }}";
        foreach (var (family, set) in BanSets)
            sb.Append("    ").Append(match).Append(' ').Append(family).Append(" saddr @").Append(set).Append(drop);
        for (var i = 0; i < daemons.Count; i++)
        {
            var ports = string.Join(", ", daemons[i].Ports);
            sb.Append("    tcp dport { ").Append(ports).Append(" } ip saddr @").Append(RefusalSet(i, false)).Append(drop);
            sb.Append("    tcp dport { ").Append(ports).Append(" } ip6 saddr @").Append(RefusalSet(i, true)).Append(drop);
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

    // The ban sets in the order of their rules.
    private static readonly (string Family, string Set)[] BanSets =
        [("ip", KernelView.Addresses4), ("ip", KernelView.Networks4), ("ip6", KernelView.Addresses6), ("ip6", KernelView.Networks6)];

    /// <summary>
    /// The drop chain's rules as <see cref="KernelContents.Shapes"/> reads them back from nft's JSON,
    /// in the order <see cref="Table"/> writes them: the reconciler compares them one for one.
    /// </summary>
    internal static List<string> Shapes(IReadOnlyList<int> banPorts, IEnumerable<IReadOnlyList<int>> daemonPorts, KernelHook hook)
    {
        var drop = hook == KernelHook.Prerouting ? " local drop" : " drop";
        var match = banPorts.Count == 0 ? "tcp" : "dport " + string.Join(',', banPorts.Order());
        var list = BanSets.Select(b => $"{match} {b.Family} saddr @{b.Set}{drop}").ToList();
        var i = 0;
        foreach (var ports in daemonPorts)
        {
            var dport = "dport " + string.Join(',', ports.Order());
            list.Add($"{dport} ip saddr @{RefusalSet(i, false)}{drop}");
            list.Add($"{dport} ip6 saddr @{RefusalSet(i, true)}{drop}");
            i++;
        }
        return list;
    }

    /// <summary>The drop chain's priority as nft's JSON gives it.</summary>
    internal static int Priority(KernelHook hook) => hook == KernelHook.Prerouting ? -310 : -10;

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
                    sb.Append(" timeout ").Append(Timeout(Math.Max(1, x - nowMs)));
            }
            sb.Append(" }\n");
        }
    }

    /// <summary>
    /// A timeout as nft 1.0.6 reads it: days, then milliseconds. nft refuses a bare "NNNms" past
    /// 99,999,999 (27 hours: "value too large"), and one such element failed the whole transaction.
    /// </summary>
    internal static string Timeout(long ms)
    {
        var days = ms / 86_400_000;
        var rest = (ms % 86_400_000).ToString(CultureInfo.InvariantCulture) + "ms";
        return days == 0 ? rest : days.ToString(CultureInfo.InvariantCulture) + "d" + rest;
    }

    private static void AppendPlain(StringBuilder sb, string set, IReadOnlyList<string> values)
    {
        if (values.Count == 0)
            return;
        sb.Append("add element ").Append(T).Append(' ').Append(set).Append(" { ").Append(string.Join(",\n  ", values)).Append(" }\n");
    }

    /// <summary>The longest comment nft takes, in bytes (NFTNL_UDATA_COMMENT_MAXLEN): a longer one fails the whole transaction.</summary>
    private const int CommentBytes = 128;

    /// <summary>
    /// A refusal set's comment, the daemon name as `nft list` shows it back: without the quotes,
    /// backslashes and control characters that would end or break it, and cut to nft's 128 bytes
    /// at a character's boundary (a longer daemon name refused the table, and every ban with it).
    /// </summary>
    internal static string Comment(string daemon)
    {
        var sb = new StringBuilder();
        var bytes = 0;
        foreach (var rune in daemon.EnumerateRunes())
        {
            if (rune.Value is '"' or '\\' || Rune.IsControl(rune))
                continue;
            bytes += rune.Utf8SequenceLength;
            if (bytes > CommentBytes)
                break;
            sb.Append(rune.ToString());
        }
        return sb.ToString();
    }
}
