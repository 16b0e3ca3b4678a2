// The gate's configuration as immutable values, and how it is read: the INI file,
// then GIFTWRAP_* environment variables and --section:key=value switches on top,
// validated as a whole (every error reported, each with its file and line).
using System.Net;
using Microsoft.Extensions.Configuration;

namespace Giftwrap.Gate.Config;

/// <summary>One guarded service: where it listens, the daemon name rules see, and what serves it.</summary>
public sealed record ServiceConfig
{
    public required string Name { get; init; }
    public required IReadOnlyList<IPEndPoint> Listen { get; init; }
    public required string Daemon { get; init; }
    public IPEndPoint? Forward { get; init; }
    public IReadOnlyList<string>? Exec { get; init; }
    public string? User { get; init; }
}

/// <summary>Limits that keep the gate standing under abuse.</summary>
public sealed record LimitsConfig
{
    public int MaxConnections { get; init; } = 4096;
    public int MaxPerSource { get; init; } = 64;
    public TimeSpan DecisionTimeout { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan BannerTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a forwarded connection may stay half-closed without moving a byte before it is ended.</summary>
    public TimeSpan HalfCloseTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public int BufferSize { get; init; } = 64 * 1024;
    /// <summary>[actions] max_children: programs of rules (spawn, twist, aclexec) running at once, background jobs included.</summary>
    public int MaxChildren { get; init; } = 32;
    /// <summary>[actions] max_starts_per_minute: programs one rule may start per minute.</summary>
    public int MaxStartsPerMinute { get; init; } = 60;
}

/// <summary>The whole configuration of `giftwrap serve`.</summary>
public sealed record GateConfig
{
    public required string Allow { get; init; }
    public required string Deny { get; init; }
    public required IReadOnlyList<ServiceConfig> Services { get; init; }
    public LimitsConfig Limits { get; init; } = new();
    public IPEndPoint? DnsServer { get; init; }
    public TimeSpan DnsTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public int IdentPort { get; init; } = 113;
    public string? Syslog { get; init; } = "/dev/log";
    public string Source { get; init; } = "";

    /// <summary>The decision log (JSON lines), or null for none.</summary>
    public string? DecisionLog { get; init; }
    public long DecisionLogMaxBytes { get; init; } = 10 * 1024 * 1024;
    public int DecisionLogKeep { get; init; } = 3;

    /// <summary>Where the Prometheus metrics endpoint listens ([metrics] listen), or null for none.</summary>
    public IPEndPoint? MetricsListen { get; init; }

    /// <summary>Notes from reading (inetd.conf lines that are not served), for the log.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>A configuration that could not be used, with every reason.</summary>
public sealed class GateConfigException(IReadOnlyList<string> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

public static class GateConfigLoader
{
    /// <summary>Reads and validates <paramref name="path"/>; throws <see cref="GateConfigException"/> listing every error.</summary>
    public static GateConfig Load(string path, IEnumerable<string>? overrides = null, IDictionary<string, string?>? environment = null, string? inetd = null)
    {
        // With --inetd, the configuration file is optional: the inetd.conf lines are the services.
        var ini = inetd is not null && !File.Exists(path) ? IniFile.Empty(path) : IniFile.Read(path);
        var errors = new List<string>(ini.Errors);
        var builder = new ConfigurationBuilder()
            .AddInMemoryCollection(ini.Values.ToDictionary(kv => kv.Key, kv => (string?)kv.Value.Value, StringComparer.OrdinalIgnoreCase));
        if (environment is not null)
            builder.AddInMemoryCollection(environment.Where(e => e.Key.StartsWith("GIFTWRAP_", StringComparison.Ordinal))
                .Select(e => KeyValuePair.Create(e.Key["GIFTWRAP_".Length..].Replace("__", ":", StringComparison.Ordinal), e.Value)));
        else
            builder.AddEnvironmentVariables("GIFTWRAP_");
        if (overrides is not null)
            builder.AddCommandLine([.. overrides]);
        var config = builder.Build();
        var services = new List<ServiceConfig>();
        foreach (var section in config.GetSection("service").GetChildren())
            services.Add(Service(section, ini, errors));
        var notes = new List<string>();
        if (inetd is not null)
            services.AddRange(InetdConf.Read(inetd, errors, notes));
        if (services.Count == 0)
            errors.Add(inetd is null ? $"{path}: no [service:NAME] section: nothing to guard" : $"{inetd}: no stream/tcp nowait service to serve");
        var dup = services.SelectMany(s => s.Listen.Select(l => (s.Name, l))).GroupBy(x => x.l).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null)
            errors.Add($"{path}: {dup.Key} is the listen address of more than one service ({string.Join(", ", dup.Select(d => d.Name))})");
        var limits = new LimitsConfig
        {
            MaxConnections = Int(config, "limits:max_connections", 4096, ini, errors),
            MaxPerSource = Int(config, "limits:max_per_source", 64, ini, errors),
            DecisionTimeout = Duration(config, "limits:decision_timeout", TimeSpan.FromSeconds(15), ini, errors),
            BannerTimeout = Duration(config, "limits:banner_timeout", TimeSpan.FromSeconds(10), ini, errors),
            ConnectTimeout = Duration(config, "limits:connect_timeout", TimeSpan.FromSeconds(10), ini, errors),
            HalfCloseTimeout = Duration(config, "limits:half_close_timeout", TimeSpan.FromSeconds(60), ini, errors),
            MaxChildren = Int(config, "actions:max_children", 32, ini, errors),
            MaxStartsPerMinute = Int(config, "actions:max_starts_per_minute", 60, ini, errors),
        };
        IPEndPoint? dns = null;
        if (config["dns:server"] is { Length: > 0 } dnsText && !TryEndPoint(dnsText, 53, out dns))
            errors.Add($"{ini.Where("dns:server")}: dns server \"{dnsText}\" is not address:port");
        IPEndPoint? metrics = null;
        if (config["metrics:listen"] is { } metricsText && (!TryEndPoint(metricsText.Trim(), 0, out metrics) || metrics.Port == 0))
        {
            errors.Add($"{ini.Where("metrics:listen")}: metrics listen address \"{metricsText}\" is not address:port (IPv6 as [addr]:port)");
            metrics = null;
        }
        var result = new GateConfig
        {
            Allow = config["tables:allow"] ?? "/etc/hosts.allow",
            Deny = config["tables:deny"] ?? "/etc/hosts.deny",
            Services = services,
            Limits = limits,
            DnsServer = dns,
            DnsTimeout = Duration(config, "dns:timeout", TimeSpan.FromSeconds(5), ini, errors),
            IdentPort = Int(config, "ident:port", 113, ini, errors),
            Syslog = config["log:syslog"] is { } s ? (s.Equals("off", StringComparison.OrdinalIgnoreCase) ? null : s) : "/dev/log",
            Source = path,
            Notes = notes,
            DecisionLog = config["log:decisions"] is { Length: > 0 } dl ? dl : null,
            DecisionLogMaxBytes = Size(config, "log:decisions_max_size", 10 * 1024 * 1024, ini, errors),
            DecisionLogKeep = Int(config, "log:decisions_keep", 3, ini, errors),
            MetricsListen = metrics,
        };
        if (errors.Count > 0)
            throw new GateConfigException(errors);
        return result;
    }

    private static ServiceConfig Service(IConfigurationSection s, IniFile ini, List<string> errors)
    {
        var name = s.Key;
        var where = ini.Where($"service:{name}:listen");
        var listen = new List<IPEndPoint>();
        var listenText = s["listen"];
        if (string.IsNullOrWhiteSpace(listenText))
            errors.Add($"{ini.Path}: [service:{name}] has no listen address");
        else
        {
            foreach (var part in listenText.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries))
            {
                if (TryEndPoint(part, 0, out var ep) && ep.Port != 0)
                    listen.Add(ep);
                else
                    errors.Add($"{where}: listen address \"{part}\" is not address:port (IPv6 as [addr]:port)");
            }
        }
        IPEndPoint? forward = null;
        if (s["forward"] is { Length: > 0 } f && (!TryEndPoint(f, 0, out forward) || forward.Port == 0))
            errors.Add($"{ini.Where($"service:{name}:forward")}: forward address \"{f}\" is not address:port");
        var exec = s["exec"] is { Length: > 0 } e ? CommandLine.Split(e) : null;
        if (exec is { Count: 0 })
            exec = null;
        if ((forward is null) == (exec is null) && !(s["forward"] is { Length: > 0 } && forward is null))
            errors.Add($"{where}: [service:{name}] needs exactly one of forward = address:port or exec = program");
        if (exec is not null && !File.Exists(exec[0]))
            errors.Add($"{ini.Where($"service:{name}:exec")}: {exec[0]}: no such program");
        var user = s["user"];
        if (user is { Length: > 0 } && !Giftwrap.Decisions.SystemAccounts.Instance.UserExists(user))
            errors.Add($"{ini.Where($"service:{name}:user")}: unknown user \"{user}\"");
        return new ServiceConfig
        {
            Name = name,
            Listen = listen,
            Daemon = s["daemon"] is { Length: > 0 } d ? d : name,
            Forward = forward,
            Exec = exec,
            User = user is { Length: > 0 } ? user : null,
        };
    }

    internal static bool TryEndPoint(string text, int defaultPort, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? ep)
    {
        if (!IPEndPoint.TryParse(text, out ep))
            return false;
        if (ep.Port == 0 && defaultPort != 0)
            ep.Port = defaultPort;
        return true;
    }

    private static long Size(IConfiguration c, string key, long fallback, IniFile ini, List<string> errors)
    {
        var text = c[key]?.Trim();
        if (text is null)
            return fallback;
        var factor = text.EndsWith('K') || text.EndsWith('k') ? 1024L : text.EndsWith('M') ? 1024L * 1024 : text.EndsWith('G') ? 1024L * 1024 * 1024 : 1L;
        var digits = factor == 1 ? text : text[..^1];
        if (long.TryParse(digits, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0)
            return n * factor;
        errors.Add($"{ini.Where(key)}: {key} must be a size such as 500K or 10M, found \"{text}\"");
        return fallback;
    }

    private static int Int(IConfiguration c, string key, int fallback, IniFile ini, List<string> errors)
    {
        var text = c[key];
        if (text is null)
            return fallback;
        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0)
            return v;
        errors.Add($"{ini.Where(key)}: {key} must be a positive whole number, found \"{text}\"");
        return fallback;
    }

    private static TimeSpan Duration(IConfiguration c, string key, TimeSpan fallback, IniFile ini, List<string> errors)
    {
        var text = c[key];
        if (text is null)
            return fallback;
        if (DurationText.TryParse(text, out var d) && d > TimeSpan.Zero)
            return d;
        errors.Add($"{ini.Where(key)}: {key} must be a duration such as 500ms, 10s, 5m; found \"{text}\"");
        return fallback;
    }
}

/// <summary>Durations written as 500ms, 10s, 5m, 2h, 1d (a bare number is seconds).</summary>
public static class DurationText
{
    public static bool TryParse(string text, out TimeSpan value)
    {
        value = default;
        var t = text.Trim();
        var units = new (string Suffix, double Seconds)[] { ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400) };
        foreach (var (suffix, seconds) in units)
        {
            if (t.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) && !(suffix == "s" && t.EndsWith("ms", StringComparison.OrdinalIgnoreCase))
                && !(suffix == "m" && t.EndsWith("ms", StringComparison.OrdinalIgnoreCase)))
            {
                if (double.TryParse(t[..^suffix.Length], System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var n))
                {
                    value = TimeSpan.FromSeconds(n * seconds);
                    return true;
                }
                return false;
            }
        }
        if (double.TryParse(t, System.Globalization.NumberStyles.AllowDecimalPoint, System.Globalization.CultureInfo.InvariantCulture, out var secs))
        {
            value = TimeSpan.FromSeconds(secs);
            return true;
        }
        return false;
    }
}

/// <summary>Splits an exec line into argv: blanks separate, double or single quotes group, backslash escapes.</summary>
internal static class CommandLine
{
    public static List<string> Split(string text)
    {
        var args = new List<string>();
        var sb = new System.Text.StringBuilder();
        var inArg = false;
        char quote = '\0';
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quote != '\0')
            {
                if (c == quote)
                    quote = '\0';
                else if (c == '\\' && quote == '"' && i + 1 < text.Length)
                    sb.Append(text[++i]);
                else
                    sb.Append(c);
                continue;
            }
            if (char.IsWhiteSpace(c))
            {
                if (inArg)
                {
                    args.Add(sb.ToString());
                    sb.Clear();
                    inArg = false;
                }
                continue;
            }
            inArg = true;
            if (c is '"' or '\'')
                quote = c;
            else if (c == '\\' && i + 1 < text.Length)
                sb.Append(text[++i]);
            else
                sb.Append(c);
        }
        if (inArg)
            args.Add(sb.ToString());
        return args;
    }
}
