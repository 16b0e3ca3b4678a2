// `giftwrap serve`: the gate daemon. Reads the configuration (every error named
// with file and line stops the start), opens the listeners, tells systemd it is
// ready, reloads on SIGHUP (a broken new configuration keeps the old one), and on
// SIGTERM stops accepting and drains open connections.
using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Connections;
using Giftwrap.Gate.Listening;
using Giftwrap.Gate.Logging;
using OpenTelemetry.Metrics;

namespace Giftwrap.Cli.Commands;

internal static class ServeCommand
{
    public const string DefaultConfig = "/etc/giftwrap/giftwrap.conf";

    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = $"The configuration file (default {DefaultConfig})." };
        var check = new Option<bool>("--check-config") { Description = "Read and validate the configuration, then exit." };
        var inetd = new Option<string?>("--inetd") { Description = "Serve the stream/tcp nowait services of an inetd.conf as they are (tcpd entries unwrapped)." };
        var drain = new Option<int>("--drain-seconds") { Description = "How long SIGTERM waits for open connections (default 30).", DefaultValueFactory = _ => 30 };
        var command = new Command("serve", "Run the gate daemon in front of TCP services (forward to a backend, or exec a program); --section:key=value overrides a configuration setting.") { config, inetd, check, drain };
        command.TreatUnmatchedTokensAsErrors = false;
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(config) ?? DefaultConfig;
            var overrides = result.UnmatchedTokens.ToArray();
            GateConfig cfg;
            try
            {
                cfg = GateConfigLoader.Load(path, overrides, inetd: result.GetValue(inetd));
            }
            catch (GateConfigException ex)
            {
                foreach (var e in ex.Errors)
                    await Console.Error.WriteLineAsync($"giftwrap: {e}").ConfigureAwait(false);
                return 78; // EX_CONFIG
            }
            if (result.GetValue(check))
            {
                Console.Out.WriteLine($"{path}: {cfg.Services.Count} service(s), configuration OK");
                return 0;
            }
            foreach (var note in cfg.Notes)
                await Console.Error.WriteLineAsync($"giftwrap: {note}").ConfigureAwait(false);
            return await RunAsync(cfg, path, overrides, result.GetValue(inetd), TimeSpan.FromSeconds(result.GetValue(drain)), ct).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(GateConfig cfg, string path, string[] overrides, string? inetd, TimeSpan drain, CancellationToken ct)
    {
        using var log = new GateLog(cfg.Syslog);
        var lookups = GateLookups.Create(cfg);
        // Bans are part of the gate only when the configuration has a [bans] section.
        using var bans = Giftwrap.Gate.Config.IniFile.Read(path).Values.Keys.Any(k => k.StartsWith("bans:", StringComparison.OrdinalIgnoreCase))
            ? GateBans.Open(path, e => log.Gate(Severity.Err, $"error: {e}"))
            : null;
        // A [bans] redis = ... key joins the fleet: bans and unbans travel to every member.
        IReadOnlyList<string> fleetErrors = [];
        var fleetOptions = bans is null ? null : Giftwrap.Bans.Redis.FleetOptionsReader.Read(path, out fleetErrors);
        foreach (var e in fleetErrors)
            log.Gate(Severity.Err, $"error: {e}; not joining the fleet");
        if (fleetErrors.Count > 0)
            fleetOptions = null;
        using var banMetrics = bans?.ObserveMetrics();
        // Joined in the background: a Redis that is down or does not answer must not hold the listeners back.
        await using var fleet = fleetOptions is null ? null : Giftwrap.Bans.Redis.BackgroundFleet.Start(bans!.Store, fleetOptions, new FleetLog(log));
        var server = new GateServer(cfg, log, lookups, SocketActivation.Take(), bans);
        // Signals are taken before the listeners open: a SIGHUP that follows "listening on" at once
        // must reload, not kill the daemon with the default action.
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        using var hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, c =>
        {
            c.Cancel = true;
            try
            {
                server.Reload(GateConfigLoader.Load(path, overrides, inetd: inetd));
            }
            catch (GateConfigException ex)
            {
                log.Gate(Severity.Err, $"error: reload refused, keeping the running configuration: {string.Join("; ", ex.Errors)}");
            }
            catch (SocketException ex)
            {
                log.Gate(Severity.Err, $"error: reload refused, keeping the running configuration: {ex.Message}");
            }
        });
        MeterProvider? metrics = null;
        try
        {
            metrics = cfg.MetricsListen is { } m ? MetricsEndpoint.Start(m) : null;
            server.Start();
        }
        catch (SocketException ex)
        {
            log.Gate(Severity.Err, $"error: cannot listen: {ex.Message}");
            metrics?.Dispose();
            return 1;
        }
        catch (HttpListenerException ex)
        {
            // The [metrics] endpoint asked for cannot be had: refuse to start rather than run unobserved.
            log.Gate(Severity.Err, $"error: cannot listen for metrics on {cfg.MetricsListen}: {ex.Message}");
            return 1;
        }
        using var metricsProvider = metrics;
        if (cfg.MetricsListen is { } endpoint)
            log.Gate(Severity.Info, $"metrics on http://{endpoint}/metrics");
        SystemdNotify.Send("READY=1");
        using (ct.Register(() => stop.TrySetResult()))
            await stop.Task.ConfigureAwait(false);
        SystemdNotify.Send("STOPPING=1");
        log.Gate(Severity.Info, "stopping: no new connections; draining open ones");
        await server.StopAsync(drain).ConfigureAwait(false);
        await server.DisposeAsync().ConfigureAwait(false);
        return 0;
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
