// `giftwrap serve`: the gate daemon. Reads the configuration (every error named
// with file and line stops the start), opens the listeners, tells systemd it is
// ready, reloads on SIGHUP (a broken new configuration keeps the old one), and on
// SIGTERM stops accepting and drains open connections.
using System.CommandLine;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Giftwrap.Cli.Metrics;
using Giftwrap.Configuration;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Listening;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;

namespace Giftwrap.Cli.Commands;

internal static class ServeCommand
{
    public const string DefaultConfig = "/etc/giftwrap/giftwrap.conf";

    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = $"The configuration file (default {DefaultConfig})." };
        var check = new Option<bool>("--check-config") { Description = "Read and validate the configuration, then exit." };
        var inetd = new Option<string?>("--inetd") { Description = "Serve the stream/tcp nowait and dgram/udp wait services of an inetd.conf as inetd does (tcpd entries unwrapped)." };
        var drain = new Option<int>("--drain-seconds") { Description = "How long SIGTERM waits for open connections (default 30).", DefaultValueFactory = _ => 30 };
        var command = new Command("serve", "Run the gate daemon in front of TCP services (forward to a backend, or exec a program); --section:key=value overrides a configuration setting.") { config, inetd, check, drain };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(config) ?? DefaultConfig;
            // Unmatched tokens are --section:key=value settings; anything else is a usage error (2), never ignored.
            var usage = new List<string>();
            var switches = ConfigOverride.FromSwitches([.. result.UnmatchedTokens], usage);
            if (usage.Count > 0)
            {
                foreach (var u in usage)
                    await Console.Error.WriteLineAsync($"giftwrap serve: {u}").ConfigureAwait(false);
                return 2;
            }
            var settings = Settings.ForServe(path, switches, result.GetValue(inetd));
            if (settings.File.Errors.Count > 0)
            {
                foreach (var e in settings.File.Errors)
                    await Console.Error.WriteLineAsync($"giftwrap: {e}").ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"giftwrap: {settings.File.Errors.Count} error(s) in the configuration; nothing started").ConfigureAwait(false);
                return 78; // EX_CONFIG
            }
            if (result.GetValue(check))
            {
                if (Settings.StoreKindError(settings) is { } kind)
                {
                    await Console.Error.WriteLineAsync($"giftwrap: {kind}").ConfigureAwait(false);
                    return 78;
                }
                Console.Out.WriteLine($"{path}: {settings.Gate.Services.Count} service(s), configuration OK");
                return 0;
            }
            foreach (var note in settings.Gate.Notes)
                await Console.Error.WriteLineAsync($"giftwrap: {note}").ConfigureAwait(false);
            return await RunAsync(settings, path, switches, result.GetValue(inetd), TimeSpan.FromSeconds(result.GetValue(drain)), ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>Every section and key of the configuration with its kind, default and documentation line.</summary>
    internal static string KeysHelp()
    {
        var sb = new System.Text.StringBuilder("Configuration keys (giftwrap.conf(5); override with GIFTWRAP_section__key or --section:key=value):\n");
        foreach (var section in ConfigSchema.Sections)
        {
            sb.Append("  [").Append(section.Name).Append(section.Labelled ? ":NAME]" : "]").Append("  ").Append(section.Doc).Append('\n');
            foreach (var key in section.Keys)
            {
                sb.Append("    ").Append(key.Name).Append(" = ").Append(ConfigSchema.Shape(key.Kind)).Append("  ").Append(key.Doc);
                if (key.Default is not null)
                    sb.Append(" (default ").Append(key.Default).Append(')');
                sb.Append('\n');
            }
        }
        return sb.ToString();
    }

    private static async Task<int> RunAsync(ServeSettings settings, string path, List<ConfigOverride> switches, string? inetd, TimeSpan drain, CancellationToken ct)
    {
        var cfg = settings.Gate;
        using var log = OpenLog(cfg, settings.File);
        var lookups = GateLookups.Create(cfg);
        // A [bans] section that cannot be honoured stops the start: a typo must not turn every ban off.
        GateBans? bans = null;
        if (settings.Bans is { } banOptions)
        {
            bans = GateBans.Open(BanCommands.WithKeep(banOptions, settings.File), settings.File.Where("bans", "store"), out var storeError);
            if (bans is null)
            {
                log.Gate(SyslogSeverity.Err, $"error: {storeError}; not starting (bans could not be enforced)");
                return 1;
            }
        }
        using var bansOwner = bans;
        using var banMetrics = bans?.ObserveMetrics();
        // Joined in the background: a Redis that is down or does not answer must not hold the listeners back.
        // Its warnings name the line of the configuration that asked for the fleet.
        await using var fleet = settings.Fleet is null ? null : Giftwrap.Bans.Redis.BackgroundFleet.Start(bans!.Store, settings.Fleet, new FleetLog(log, settings.File.Where("bans", "redis")));
        // The kernel side (nftables) is a first line in front of the gate, stopped with it. Its first
        // write is not waited for, and a failed one is logged and retried by its loop: the gate judges
        // every connection itself, banned clients included, so it listens at once whatever nft does.
        // CrowdSec's decisions go into the same store (so the fleet shares them), followed in the
        // background. A reload changes either where its section changed.
        await using var sides = new ServeSides(bans, log);
        sides.Start(settings);
        var server = new GateServer(cfg, log, lookups, SocketActivation.Take(), bans);
        // Signals are taken before the listeners open: a SIGHUP that follows "listening on" at once
        // must reload, not kill the daemon with the default action.
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        // The handler only asks: the reload runs in the loop below, one at a time, and can await
        // the kernel's transaction and the bouncer's stop.
        using var hups = new SemaphoreSlim(0);
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            hups.Release();
        });
        MetricsServer? metrics;
        try
        {
            metrics = cfg.MetricsListen is { } m ? MetricsServer.Start(m, GiftwrapMetrics.MeterName) : null;
        }
        catch (SocketException ex)
        {
            // The [metrics] endpoint asked for cannot be had: refuse to start rather than run unobserved.
            log.Gate(SyslogSeverity.Err, $"error: {settings.File.Where("metrics", "listen")}: cannot listen for metrics on {cfg.MetricsListen}: {ex.Message}");
            return 1;
        }
        using var metricsServer = metrics;
        try
        {
            server.Start();
        }
        catch (SocketException ex)
        {
            log.Gate(SyslogSeverity.Err, $"error: {Listening.Describe(ex, cfg, settings.File)}");
            return 1;
        }
        if (cfg.MetricsListen is { } endpoint)
            log.Gate(SyslogSeverity.Info, $"metrics on http://{endpoint}/metrics");
        SystemdNotify.Send("READY=1");
        using (ct.Register(() => stop.TrySetResult()))
        {
            // A wait left pending at the stop is harmless: the process ends.
            var running = settings.File;
            while (await Task.WhenAny(stop.Task, hups.WaitAsync(CancellationToken.None)).ConfigureAwait(false) != stop.Task)
                running = await ReloadAsync(server, sides, log, running, () => Reloading.Read(path, switches, inetd, running)).ConfigureAwait(false);
        }
        SystemdNotify.Send("STOPPING=1");
        log.Gate(SyslogSeverity.Info, "stopping: no new connections; draining open ones");
        await server.StopAsync(drain).ConfigureAwait(false);
        await server.DisposeAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>
    /// The gate's log as [log] says, read at start only. When the connection lines stay off the console, the
    /// console says so once: an operator who reads it must not take its silence for no connections.
    /// </summary>
    private static GateLog OpenLog(Giftwrap.Gate.Config.GateConfig cfg, ConfigFile file)
    {
        var daemonLines = ConsoleJournal.DaemonLines(cfg.LogConsole, cfg.Syslog is not null, Environment.GetEnvironmentVariable("JOURNAL_STREAM"));
        var log = new GateLog(cfg.Syslog, daemonLinesToConsole: daemonLines);
        if (!daemonLines)
        {
            var why = cfg.LogConsole == Giftwrap.Gate.Config.ConsoleMode.Auto
                ? "stderr is the systemd journal (JOURNAL_STREAM), which reads syslog too"
                : $"{file.Where("log", "console")}: console = off";
            log.Gate(SyslogSeverity.Info, $"connection lines go to syslog ({cfg.Syslog}) only, errors to both: {why}");
        }
        return log;
    }

    /// <summary>
    /// One SIGHUP: the whole new configuration or none of it. A configuration with any error
    /// (each with its file:line) or a listener that cannot be opened keeps the running one,
    /// the kernel side's and the bouncer's settings included.
    /// </summary>
    private static async Task<ConfigFile> ReloadAsync(GateServer server, ServeSides sides, GateLog log, ConfigFile running, Func<ReloadResult> read)
    {
        var reload = read();
        if (reload.Errors.Count > 0)
        {
            log.Gate(SyslogSeverity.Err, $"error: reload refused, keeping the running configuration: {string.Join("; ", reload.Errors)}");
            return running;
        }
        try
        {
            server.Reload(reload.Settings!.Gate);
        }
        catch (SocketException ex)
        {
            log.Gate(SyslogSeverity.Err, $"error: reload refused, keeping the running configuration: {Listening.Describe(ex)}");
            return running;
        }
        await sides.ApplyAsync(reload.Settings).ConfigureAwait(false);
        LogKeysKept(log, running, reload.Settings.File);
        return reload.Settings.File;
    }

    /// <summary>[log] syslog and console are the log's, opened at start: a reload that changes them says they wait for a restart.</summary>
    private static void LogKeysKept(GateLog log, ConfigFile running, ConfigFile next)
    {
        foreach (var key in (string[])["syslog", "console"])
        {
            if (!string.Equals(running.Text("log", key), next.Text("log", key), StringComparison.OrdinalIgnoreCase))
                log.Gate(SyslogSeverity.Warning, $"warning: {next.Where("log", key)}: [log] {key} changed; the running gate keeps {running.Text("log", key)} until it is restarted");
        }
    }
}

/// <summary>sd_notify(3): one datagram to $NOTIFY_SOCKET, if systemd gave one.</summary>
internal static class SystemdNotify
{
    public static void Send(string state)
    {
        var path = Environment.GetEnvironmentVariable("NOTIFY_SOCKET");
        if (string.IsNullOrEmpty(path))
            return;
        try
        {
            using var s = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            // An abstract socket name starts with '@' in the variable and with NUL on the wire.
            var name = path.StartsWith('@') ? "\0" + path[1..] : path;
            s.SendTo(System.Text.Encoding.UTF8.GetBytes(state), new UnixDomainSocketEndPoint(name));
        }
        catch (SocketException)
        {
            // systemd not listening: nothing to tell.
        }
    }
}
