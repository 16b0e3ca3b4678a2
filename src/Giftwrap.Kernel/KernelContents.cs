// What the kernel holds in Giftwrap's table, read from `nft -j list table inet giftwrap`:
// the sets and their elements (with the seconds they have left), and the base chain with
// its rules, so that the reconciler can tell a missing table, a deleted chain or rule, a
// flushed set and a lost element apart from a table in step with the store.
// nft's JSON gives timeouts in whole seconds: expiries compare with a margin.
using System.Text.Json;
using Giftwrap.Bans;

namespace Giftwrap.Kernel;

internal sealed class KernelContents
{
    /// <summary>The table is there at all.</summary>
    public bool Exists { get; private init; }

    /// <summary>Elements of the ban sets by key ("a4 192.0.2.1"), with their expiry in Unix ms (null: no timeout).</summary>
    public Dictionary<string, long?> Elements { get; } = new(StringComparer.Ordinal);

    /// <summary>Elements of other sets (the address rules), by set name, as nft wrote them.</summary>
    public Dictionary<string, List<string>> Others { get; } = new(StringComparer.Ordinal);

    /// <summary>Set comments by set name (the address rules' sets carry their daemon name).</summary>
    public Dictionary<string, string> Comments { get; } = new(StringComparer.Ordinal);

    /// <summary>The names of the sets present.</summary>
    public HashSet<string> Sets { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// The drop chain's rules, each read back as its shape ("dport 22 ip saddr @a4 local drop"; see
    /// <see cref="NftScript.Shapes"/>), so a rule edited in place (a drop made a counter) is drift,
    /// not only a rule added or deleted; empty when the chain or its hook is missing.
    /// </summary>
    public List<string> Shapes { get; private set; } = [];

    /// <summary>The hook of the drop chain (a chain named after its own hook, prerouting or input); null when there is none.</summary>
    public KernelHook? Hook { get; private set; }

    /// <summary>The drop chain's priority as nft's JSON gives it (-310 for raw - 10).</summary>
    public int? Priority { get; private set; }

    public static KernelContents Absent { get; } = new() { Exists = false };

    /// <summary>
    /// <see cref="Parse"/> as a value: false and the reason when nft's answer is not the JSON read here
    /// (another nft's schema, a truncated answer, a number where an integer belongs).
    /// </summary>
    public static bool TryParse(string json, long nowMs, out KernelContents? contents, out string? error)
    {
        try
        {
            contents = Parse(json, nowMs);
            error = null;
            return true;
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or IndexOutOfRangeException or ArgumentException)
        {
            // What JsonDocument and JsonElement throw on text or a shape they do not expect.
            contents = null;
            error = ex.Message;
            return false;
        }
    }

    public static KernelContents Parse(string json, long nowMs)
    {
        var contents = new KernelContents { Exists = true };
        using var doc = JsonDocument.Parse(json);
        var rules = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var item in doc.RootElement.GetProperty("nftables").EnumerateArray())
        {
            if (item.TryGetProperty("set", out var set))
                contents.ReadSet(set, nowMs);
            else if (item.TryGetProperty("chain", out var chain))
                contents.ReadChain(chain);
            else if (item.TryGetProperty("rule", out var rule) && rule.GetProperty("chain").GetString() is { } name)
                (rules.TryGetValue(name, out var list) ? list : rules[name] = []).Add(Shape(rule));
        }
        if (contents.Hook is { } h)
            contents.Shapes = rules.GetValueOrDefault(NftScript.Chain(h)) ?? [];
        return contents;
    }

    private void ReadChain(JsonElement chain)
    {
        // Only a base chain whose name is its hook is Giftwrap's drop chain; any other is foreign (drift).
        var name = chain.GetProperty("name").GetString();
        if (!chain.TryGetProperty("hook", out var hook) || hook.GetString() != name)
            return;
        foreach (var h in new[] { KernelHook.Prerouting, KernelHook.Input })
        {
            if (name == NftScript.Chain(h) && Hook is null)
            {
                Hook = h;
                Priority = chain.TryGetProperty("prio", out var prio) && prio.ValueKind == JsonValueKind.Number ? prio.GetInt32() : null;
            }
        }
    }

    private void ReadSet(JsonElement set, long nowMs)
    {
        var name = set.GetProperty("name").GetString() ?? "";
        Sets.Add(name);
        if (set.TryGetProperty("comment", out var comment))
            Comments[name] = comment.GetString() ?? "";
        if (!set.TryGetProperty("elem", out var elems))
            return;
        var banSet = name is KernelView.Addresses4 or KernelView.Addresses6 or KernelView.Networks4 or KernelView.Networks6;
        foreach (var elem in elems.EnumerateArray())
        {
            var value = elem;
            long? expires = null;
            if (elem.ValueKind == JsonValueKind.Object && elem.TryGetProperty("elem", out var inner))
            {
                value = inner.GetProperty("val");
                if (inner.TryGetProperty("expires", out var left))
                    expires = nowMs + (left.GetInt64() * 1000);
                else if (inner.TryGetProperty("timeout", out var timeout))
                    expires = nowMs + (timeout.GetInt64() * 1000);
            }
            var text = Text(value);
            if (banSet)
            {
                Elements[$"{name} {Normalise(text)}"] = expires;
            }
            else
            {
                if (!Others.TryGetValue(name, out var list))
                    Others[name] = list = [];
                list.Add(text);
            }
        }
    }

    /// <summary>
    /// A rule's expressions in the words of <see cref="NftScript.Shapes"/>; an expression Giftwrap
    /// never writes (a counter, an accept, another match) stays as its raw JSON, so it never compares equal.
    /// </summary>
    private static string Shape(JsonElement rule) =>
        rule.TryGetProperty("expr", out var expr) && expr.ValueKind == JsonValueKind.Array
            ? string.Join(' ', expr.EnumerateArray().Select(Part))
            : rule.GetRawText();

    private static string Part(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            return e.GetRawText();
        if (e.TryGetProperty("drop", out _))
            return "drop";
        if (!e.TryGetProperty("match", out var m) || !m.TryGetProperty("op", out var op) || op.GetString() != "=="
            || !m.TryGetProperty("left", out var left) || !m.TryGetProperty("right", out var right) || left.ValueKind != JsonValueKind.Object)
        {
            return e.GetRawText();
        }
        if (left.TryGetProperty("meta", out var meta) && meta.TryGetProperty("key", out var key) && key.GetString() == "l4proto" && right.ValueKind == JsonValueKind.String && right.GetString() == "tcp")
            return "tcp";
        if (left.TryGetProperty("payload", out var payload) && payload.TryGetProperty("protocol", out var protocol) && payload.TryGetProperty("field", out var field))
        {
            var (p, f) = (protocol.GetString(), field.GetString());
            if (p == "tcp" && f == "dport" && Ports(right) is { } ports)
                return "dport " + ports;
            if (p is "ip" or "ip6" && f == "saddr" && right.ValueKind == JsonValueKind.String && right.GetString() is ['@', ..] set)
                return $"{p} saddr {set}";
        }
        if (left.TryGetProperty("fib", out var fib) && LocalAddress(fib) && right.ValueKind == JsonValueKind.String && right.GetString() == "local")
            return "local";
        return e.GetRawText();
    }

    // fib daddr type: the route type of the packet's destination address, and nothing else.
    private static bool LocalAddress(JsonElement fib) =>
        fib.ValueKind == JsonValueKind.Object && fib.TryGetProperty("result", out var result) && result.ValueKind == JsonValueKind.String && result.GetString() == "type"
        && fib.TryGetProperty("flags", out var flags) && flags.ValueKind == JsonValueKind.Array && flags.GetArrayLength() == 1 && flags[0].ValueKind == JsonValueKind.String && flags[0].GetString() == "daddr";

    // One port is a number, several an anonymous set of numbers; anything else (a range, a map) is no shape of ours.
    private static string? Ports(JsonElement right)
    {
        if (right.ValueKind == JsonValueKind.Number)
            return right.GetRawText();
        if (right.ValueKind != JsonValueKind.Object || !right.TryGetProperty("set", out var set) || set.ValueKind != JsonValueKind.Array
            || set.EnumerateArray().Any(p => p.ValueKind != JsonValueKind.Number))
        {
            return null;
        }
        return string.Join(',', set.EnumerateArray().Select(p => p.GetInt32()).Order());
    }

    private static string Text(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.String)
            return value.GetString() ?? "";
        if (value.TryGetProperty("prefix", out var prefix))
            return $"{prefix.GetProperty("addr").GetString()}/{prefix.GetProperty("len").GetInt32()}";
        if (value.TryGetProperty("range", out var range))
            return $"{range[0].GetString()}-{range[1].GetString()}";
        return value.GetRawText();
    }

    // nft writes addresses with inet_ntop; the store with .NET: both go through BanTarget to compare.
    private static string Normalise(string text) => BanTarget.TryParse(text, out var t, out _) ? t.ToString() : text;
}
