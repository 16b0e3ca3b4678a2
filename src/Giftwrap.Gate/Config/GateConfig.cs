// The gate's configuration as immutable values, and how it is read: the INI file,
// then GIFTWRAP_* environment variables and --section:key=value switches on top, all
// through the one reader and schema of Giftwrap.Configuration (every error reported, each
// with its file:line:column or the override that set it).
using System.Net;
using Giftwrap.Configuration;

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
    /// <summary>A trap ([service:NAME] trap = DURATION): no backend; every connection bans its source for this long.</summary>
    public TimeSpan? Trap { get; init; }
    /// <summary>The most bans the trap makes per minute (trap_bans_per_minute).</summary>
    public int TrapBansPerMinute { get; init; } = 60;

    /// <summary>[service:X] proxy_protocol: the PROXY protocol header a forward backend gets before the client's bytes.</summary>
    public ProxyProtocolVersion ProxyProtocol { get; init; }

    /// <summary>[service:X] transparent: the forward backend is connected to from the client's own address.</summary>
    public bool Transparent { get; init; }

    /// <summary>The UDP addresses of a datagram service (inetd's `dgram udp wait`): the exec program gets the socket for each granted burst.</summary>
    public IReadOnlyList<IPEndPoint> ListenUdp { get; init; } = [];
}

/// <summary>Which PROXY protocol header (HAProxy's proxy-protocol.txt) a forward service sends, if any.</summary>
public enum ProxyProtocolVersion
{
    /// <summary>No header: the backend sees the gate's connection only.</summary>
    None,
    /// <summary>Version 1, one line of text.</summary>
    V1,
    /// <summary>Version 2, binary.</summary>
    V2,
}

/// <summary>[log] console: whether libwrap's per-connection lines go to the console (stderr) too.</summary>
public enum ConsoleMode
{
    /// <summary>As <see cref="On"/>, unless the console is the systemd journal and syslog is on: then as <see cref="Off"/>.</summary>
    Auto,
    /// <summary>Every line to the console.</summary>
    On,
    /// <summary>No per-connection line to the console (the gate's own lines still go there).</summary>
    Off,
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

    /// <summary>[log] console: whether the per-connection lines go to the console too.</summary>
    public ConsoleMode LogConsole { get; init; }

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
        var usage = new List<string>();
        var all = ConfigOverride.FromEnvironment(environment is null ? null : new System.Collections.Hashtable(environment.ToDictionary(e => e.Key, e => e.Value)));
        all.AddRange(ConfigOverride.FromSwitches([.. overrides ?? []], usage));
        // With --inetd, the configuration file is optional: the inetd.conf lines are the services.
        var file = ConfigFile.Read(path, all, missingIsEmpty: inetd is not null);
        file.Errors.InsertRange(0, usage);
        var config = FromFile(file, inetd);
        if (file.Errors.Count > 0)
            throw new GateConfigException(file.Errors);
        return config;
    }

    /// <summary>
    /// The gate's settings from a configuration already read; problems are added to
    /// <see cref="ConfigFile.Errors"/>, and with any error the result is not to be used.
    /// <paramref name="requireServices"/> false is for the commands beside the gate (check, ban,
    /// kernel, edit): a host may use them with no service to guard, and every other rule holds.
    /// </summary>
    internal static GateConfig FromFile(ConfigFile file, string? inetd, bool requireServices = true)
    {
        var errors = file.Errors;
        var services = new List<ServiceConfig>();
        foreach (var name in file.Labels("service").ToList())
            services.Add(Service(file, name));
        var notes = new List<string>();
        if (inetd is not null)
            services.AddRange(InetdConf.Read(inetd, errors, notes));
        if (services.Count == 0 && requireServices)
            errors.Add(inetd is null ? $"{file.Path}: no [service:NAME] section: nothing to guard" : $"{inetd}: no stream/tcp nowait or dgram/udp wait service to serve");
        // Every address taken twice is named, not only the first: the operator fixes them in one go.
        foreach (var dup in services.SelectMany(s => s.ListenUdp.Select(l => (s.Name, l))).GroupBy(x => x.l).Where(g => g.Count() > 1))
            errors.Add($"{file.Path}: udp:{dup.Key} is the listen address of more than one service ({string.Join(", ", dup.Select(d => d.Name))})");
        foreach (var dup in services.SelectMany(s => s.Listen.Select(l => (s.Name, l))).GroupBy(x => x.l).Where(g => g.Count() > 1))
            errors.Add($"{file.Path}: {dup.Key} is the listen address of more than one service ({string.Join(", ", dup.Select(d => d.Name))})");
        var limits = new LimitsConfig
        {
            MaxConnections = file.Count("limits", "max_connections"),
            MaxPerSource = file.Count("limits", "max_per_source"),
            DecisionTimeout = file.Duration("limits", "decision_timeout"),
            BannerTimeout = file.Duration("limits", "banner_timeout"),
            ConnectTimeout = file.Duration("limits", "connect_timeout"),
            HalfCloseTimeout = file.Duration("limits", "half_close_timeout"),
            MaxChildren = file.Count("actions", "max_children"),
            MaxStartsPerMinute = file.Count("actions", "max_starts_per_minute"),
        };
        return new GateConfig
        {
            Allow = file.Text("tables", "allow")!,
            Deny = file.Text("tables", "deny")!,
            Services = services,
            Limits = limits,
            DnsServer = file.Address("dns", "server"),
            DnsTimeout = file.Duration("dns", "timeout"),
            IdentPort = file.Count("ident", "port"),
            Syslog = file.PathOrOff("log", "syslog"),
            LogConsole = LogConsole(file),
            Source = file.Path,
            Notes = notes,
            DecisionLog = DecisionLogPath(file),
            DecisionLogMaxBytes = file.Size("log", "decisions_max_size"),
            DecisionLogKeep = file.Count("log", "decisions_keep"),
            MetricsListen = file.Address("metrics", "listen"),
        };
    }

    /// <summary>
    /// [log] decisions: a file that exists must be a regular one. A FIFO would hold every decision in open(2)
    /// until a reader came (the gate served nobody), and a device is no log.
    /// </summary>
    private static string? DecisionLogPath(ConfigFile file)
    {
        var path = file.Text("log", "decisions");
        if (path is not null && Giftwrap.Tables.TableFile.NotRegular(path) is { } what)
            file.Error("log", "decisions", $"decisions = {path}: {what}, not a regular file (name a file to append to)");
        return path;
    }

    /// <summary>
    /// [log] console. Off with syslog off is refused at the console key's place: every decision
    /// would go nowhere, and a gate that decides without a trace is worse than one that does not start.
    /// </summary>
    private static ConsoleMode LogConsole(ConfigFile file)
    {
        var mode = (file.Text("log", "console") ?? "auto").ToLowerInvariant() switch
        {
            "auto" => ConsoleMode.Auto,
            "on" or "yes" or "true" => ConsoleMode.On,
            "off" or "no" or "false" => ConsoleMode.Off,
            var other => BadConsole(file, $"console = {other}: expected auto, on or off"),
        };
        if (mode == ConsoleMode.Off && file.PathOrOff("log", "syslog") is null)
            file.Error("log", "console", $"console = off with syslog = off (at {file.Where("log", "syslog")}): decisions would be logged nowhere; turn one of them on");
        return mode;
    }

    private static ConsoleMode BadConsole(ConfigFile file, string message)
    {
        file.Error("log", "console", message);
        return ConsoleMode.Auto;
    }

    private static ServiceConfig Service(ConfigFile file, string name)
    {
        var section = $"service:{name}";
        if (file.Get(section, "listen") is null)
            file.Error(section, "listen", $"[{section}] has no listen address (listen = address:port)");
        var forward = file.Address(section, "forward");
        var exec = file.Get(section, "exec") is { } e ? CommandLine.Split(e) : null;
        if (exec is { Count: 0 })
            exec = null;
        var trap = file.Get(section, "trap") is null ? (TimeSpan?)null : file.Duration(section, "trap");
        if ((file.Get(section, "forward") is null ? 0 : 1) + (exec is null ? 0 : 1) + (trap is null ? 0 : 1) != 1)
            file.Errors.Add($"{file.Section(section)!.Header}: [{section}] needs exactly one of forward = address:port, exec = program or trap = duration");
        if (exec is not null && !File.Exists(exec[0]))
            file.Error(section, "exec", $"{exec[0]}: no such program");
        var udp = file.ListenAddresses(section, "listen", udp: true);
        // A datagram has no connection to forward: a UDP service is a program that reads its socket.
        if (udp.Count > 0 && exec is null)
            file.Error(section, "listen", $"[{section}] listens on udp: a UDP service needs exec = program (forward is for TCP)");
        var user = file.Get(section, "user");
        if (user is not null && !Giftwrap.Decisions.SystemAccounts.Instance.UserExists(user))
            file.Error(section, "user", $"unknown user \"{user}\"");
        var (proxy, transparent) = ClientAddressForBackend.Read(file, section, exec is not null || trap is not null);
        var listen = file.ListenAddresses(section, "listen", udp: false);
        ClientAddressForBackend.CheckFamilies(file, section, listen, forward);
        return new ServiceConfig
        {
            Name = name,
            Listen = listen,
            ListenUdp = udp,
            Daemon = file.Get(section, "daemon") ?? name,
            Forward = forward,
            Exec = exec,
            User = user,
            Trap = trap,
            TrapBansPerMinute = file.Count(section, "trap_bans_per_minute"),
            ProxyProtocol = proxy,
            Transparent = transparent,
        };
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
        var quote = '\0';
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
