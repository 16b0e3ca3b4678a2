// Every section and key of giftwrap.conf, declared once: its kind of value, its default
// and the line of documentation that giftwrap.conf(5) carries. The reader (ConfigFile)
// refuses what is not declared here; each command takes its values from the same
// declarations, so `serve`, `ban`, `check` and the fleet never read the file differently.
// Values whose meaning belongs to another assembly (a ban target, a fleet rate, a user)
// are declared as text here and checked by their reader, which names the same place.
namespace Giftwrap.Configuration;

/// <summary>What a key's value is, as the reader checks it.</summary>
internal enum ValueKind
{
    /// <summary>Any non-empty text, checked further by the key's reader.</summary>
    Text,
    /// <summary>A file or directory name.</summary>
    Path,
    /// <summary>A file name, or off.</summary>
    PathOrOff,
    /// <summary>yes or no (also true/false, on/off).</summary>
    YesNo,
    /// <summary>A whole number between the key's Min and Max.</summary>
    Count,
    /// <summary>A number (decimals allowed) between the key's Min and Max.</summary>
    Number,
    /// <summary>A <see cref="Duration"/>.</summary>
    Duration,
    /// <summary>A size: bytes, or with K, M or G.</summary>
    Size,
    /// <summary>One address:port (see <see cref="EndPointText"/>).</summary>
    Address,
    /// <summary>Addresses separated by blanks or commas.</summary>
    Addresses,
    /// <summary>Listen addresses separated by blanks or commas, each TCP, or UDP when written udp:ADDRESS:PORT.</summary>
    ListenAddresses,
}

/// <summary>One key: name, kind, default (as written in the file, or null for none), bounds, documentation.</summary>
internal sealed record ConfigKey(string Name, ValueKind Kind, string? Default, string Doc)
{
    public long Min { get; init; } = 1;
    public long Max { get; init; } = int.MaxValue;

    /// <summary>For <see cref="ValueKind.Address"/>: the port when none is written (0: a port is required).</summary>
    public int DefaultPort { get; init; }
}

/// <summary>One section: [name], or [name:LABEL] when <see cref="Labelled"/> (one section per service).</summary>
internal sealed record ConfigSection(string Name, bool Labelled, string Doc, IReadOnlyList<ConfigKey> Keys)
{
    public ConfigKey? Key(string name) => Keys.FirstOrDefault(k => string.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase));
}

internal static class ConfigSchema
{
    public static IReadOnlyList<ConfigSection> Sections { get; } =
    [
        new("tables", false, "The access control tables.",
        [
            new("allow", ValueKind.Path, "/etc/hosts.allow", "The allow table."),
            new("deny", ValueKind.Path, "/etc/hosts.deny", "The deny table."),
        ]),
        new("service", true, "One guarded service: [service:NAME].",
        [
            new("listen", ValueKind.ListenAddresses, null, "Where to listen: address:port (TCP) or udp:address:port (a datagram service for exec), one or more (required)."),
            new("daemon", ValueKind.Text, null, "The daemon name the rules see (default: the section's NAME)."),
            new("forward", ValueKind.Address, null, "Proxy every granted connection to this backend."),
            new("exec", ValueKind.Text, null, "Run this program for every granted connection, inetd nowait style."),
            new("user", ValueKind.Text, null, "Run the exec program as this user."),
            new("trap", ValueKind.Duration, null, "A trap instead of forward or exec: every connection bans its source for this long and is closed."),
            new("trap_bans_per_minute", ValueKind.Count, "60", "The most bans this trap makes per minute; the excess is counted and summarised.") { Max = 1_000_000 },
            new("proxy_protocol", ValueKind.Text, "off", "Send the forward backend the client's address first: v1 or v2 (HAProxy's PROXY protocol), or off."),
            new("transparent", ValueKind.YesNo, "no", "Connect to the forward backend from the client's own address (IP_TRANSPARENT; needs CAP_NET_ADMIN and policy routing)."),
        ]),
        new("limits", false, "Limits that keep the gate standing under abuse.",
        [
            new("max_connections", ValueKind.Count, "4096", "Connections open at once, over all services.") { Max = 1_000_000 },
            new("max_per_source", ValueKind.Count, "64", "Connections open at once from one client address.") { Max = 1_000_000 },
            new("decision_timeout", ValueKind.Duration, "15s", "The longest a decision may take, lookups included."),
            new("banner_timeout", ValueKind.Duration, "10s", "The longest the gate waits while sending a banners file."),
            new("connect_timeout", ValueKind.Duration, "10s", "The longest the gate waits to connect to a forward backend."),
            new("half_close_timeout", ValueKind.Duration, "60s", "A forwarded connection closed on one side and idle this long is ended."),
        ]),
        new("actions", false, "Bounds on the programs that rules start (spawn, twist, aclexec).",
        [
            new("max_children", ValueKind.Count, "32", "Programs of rules running at once, background jobs included.") { Max = 1_000_000 },
            new("max_starts_per_minute", ValueKind.Count, "60", "Programs one rule may start per minute.") { Max = 1_000_000 },
        ]),
        new("dns", false, "Name lookups.",
        [
            new("server", ValueKind.Address, null, "Ask this DNS server instead of the system resolver.") { DefaultPort = 53 },
            new("timeout", ValueKind.Duration, "5s", "The longest one lookup may take."),
        ]),
        new("ident", false, "RFC 1413 user lookups.",
        [
            new("port", ValueKind.Count, "113", "The RFC 1413 port asked.") { Max = 65535 },
        ]),
        new("log", false, "Where decisions are logged.",
        [
            new("syslog", ValueKind.PathOrOff, "/dev/log", "The syslog socket, or off."),
            new("console", ValueKind.Text, "auto", "Per-connection lines to the console (stderr) too: on, off, or auto (off when the console is the systemd journal and syslog is on)."),
            new("decisions", ValueKind.Path, null, "Append one JSON line per decision to this file."),
            new("decisions_max_size", ValueKind.Size, "10M", "Rotate the decision log at this size."),
            new("decisions_keep", ValueKind.Count, "3", "Rotated decision logs kept.") { Max = 1000 },
        ]),
        new("safety", false, "Clients that must never be locked out.",
        [
            new("keep", ValueKind.Text, null, "Clients that must stay granted: daemon@address, daemon@net/len, or an address (sshd)."),
        ]),
        new("bans", false, "The ban store, checked before the tables.",
        [
            new("store", ValueKind.Path, "/var/lib/giftwrap", "The directory of the ban store."),
            new("ban_time", ValueKind.Duration, "1h", "The length of a first ban when none is given."),
            new("increment_factor", ValueKind.Number, "2", "Each repeat ban multiplies the length by this factor.") { Min = 1, Max = 1000 },
            new("max_time", ValueKind.Duration, "1w", "Escalation stops at this length."),
            new("aggregate_v6_threshold", ValueKind.Count, "0", "Bans of one IPv6 /64 that become one /64 ban; 0 turns it off.") { Min = 0, Max = 1_000_000 },
            new("protect", ValueKind.Text, null, "Addresses and prefixes that can never be banned."),
            new("protect_loopback", ValueKind.YesNo, "yes", "Whether loopback can never be banned."),
            new("hosts_deny", ValueKind.PathOrOff, "off", "Keep a marked block of this file in step with the ban list."),
            new("redis", ValueKind.Text, null, "Join a fleet through this Redis server (a StackExchange.Redis connection string; sentinels and serviceName=NAME for Sentinel)."),
            new("fleet_rate", ValueKind.Text, "100/min", "The most bans this member sends to the fleet per s, min, h or d, or unlimited."),
            new("fleet_key", ValueKind.Text, "giftwrap:bans", "The prefix of the fleet's Redis keys."),
            new("fleet_resync", ValueKind.Duration, "5m", "How often a member compares its list with the fleet's in full."),
            new("fleet_max_skew", ValueKind.Duration, "10m", "How far ahead of this clock a fleet record may be dated; one dated further is ordered as made this far ahead."),
        ]),
        new("kernel", false, "Bans and address rules in the Linux kernel (nftables table inet giftwrap).",
        [
            new("nftables", ValueKind.YesNo, "no", "Keep the bans (and the address rules of the ports below) in the kernel's nftables table inet giftwrap."),
            new("ports", ValueKind.Text, null, "TCP ports guarded in the kernel, as daemon:port or port (default: bans drop every TCP port); [service:*] listen ports join under their daemon name."),
            new("reconcile", ValueKind.Duration, "1m", "How often the kernel's table is compared with the ban store in full."),
        ]),
        new("metrics", false, "The Prometheus metrics endpoint.",
        [
            new("listen", ValueKind.Address, null, "Serve the metrics over HTTP at this address."),
        ]),
        new("crowdsec", false, "A CrowdSec bouncer: the Local API's decisions into the ban store.",
        [
            new("lapi", ValueKind.Text, null, "The Local API's URL, such as http://127.0.0.1:8080."),
            new("api_key_file", ValueKind.Path, null, "The file holding the bouncer's key (cscli bouncers add NAME)."),
            new("poll", ValueKind.Duration, "10s", "How often the decision stream is asked for changes."),
            new("origins", ValueKind.Text, null, "Enforce decisions of these origins only (crowdsec, cscli, CAPI, lists...)."),
            new("resync", ValueKind.Duration, "10m", "How often the full decision list is reconciled again (the deltas can miss some)."),
            new("timeout", ValueKind.Duration, "30s", "The longest one request to the Local API may take."),
        ]),
    ];

    /// <summary>How a value of <paramref name="kind"/> is written, for help texts.</summary>
    public static string Shape(ValueKind kind) => kind switch
    {
        ValueKind.Path => "PATH",
        ValueKind.PathOrOff => "PATH|off",
        ValueKind.YesNo => "yes|no",
        ValueKind.Count => "N",
        ValueKind.Number => "NUMBER",
        ValueKind.Duration => "DURATION",
        ValueKind.Size => "SIZE",
        ValueKind.Address => "ADDRESS:PORT",
        ValueKind.Addresses => "ADDRESS:PORT ...",
        ValueKind.ListenAddresses => "[udp:]ADDRESS:PORT ...",
        _ => "VALUE",
    };

    public static ConfigSection? Section(string name) =>
        Sections.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The declared name nearest to a misspelled one (at most two edits away), for "did you mean".</summary>
    public static string? Nearest(string wrong, IEnumerable<string> names)
    {
        string? best = null;
        var bestDistance = 3;
        foreach (var n in names)
        {
            var d = Distance(wrong.ToLowerInvariant(), n);
            if (d < bestDistance)
                (best, bestDistance) = (n, d);
        }
        return best;
    }

    private static int Distance(string a, string b)
    {
        var row = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
            row[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            var diagonal = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }
}
