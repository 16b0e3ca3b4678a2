// The parts of serve beside the gate that follow the configuration: the kernel side (nftables)
// and the CrowdSec bouncer. Started with the gate, and on SIGHUP given the new configuration
// (already validated as a whole by Reloading): a changed [kernel] starts, reconfigures (one
// transaction) or stops the kernel side; a changed [crowdsec] restarts the bouncer, whose first
// full list reconciles the store. An unchanged section is left running as it is.
// The kernel's first write is not waited for: the gate judges every connection itself (bans and
// tables; the kernel only drops a subset of what it refuses), so it listens at once while nft
// runs, and a write that is slow or fails is said in one line.
// Not here: reading and validating the file (Settings, Reloading), the gate itself (GateServer).
using Giftwrap.Bans.CrowdSec;
using Giftwrap.Configuration;
using Giftwrap.Gate.Logging;
using Giftwrap.Kernel;
using Giftwrap.Logging;

namespace Giftwrap.Cli.Commands;

internal sealed class ServeSides(GateBans? bans, GateLog log) : IAsyncDisposable
{
    private static readonly string[] NoOrigins = [];
    private KernelSettings? _kernelSettings;
    // How long the first write may take before the log says so (nft writes a table in well under a second).
    private static readonly TimeSpan SlowFirstWrite = TimeSpan.FromSeconds(5);
    private KernelSync? _kernel;
    private Task _kernelStart = Task.CompletedTask; // the first write of _kernel, said when done
    private CrowdSecOptions? _crowdSecOptions;
    private CrowdSecBouncer? _crowdsec;
    private ConfigFile? _file; // the running configuration, for the place its log lines name

    /// <summary>What the gate starts with.</summary>
    public void Start(ServeSettings settings)
    {
        _file = settings.File;
        if (settings.Kernel is { Enabled: true } k)
            StartKernel(k);
        _kernelSettings = settings.Kernel;
        if (settings.CrowdSec is { } c)
            StartCrowdSec(c);
    }

    /// <summary>A reload's configuration, valid as a whole: each side changed only where its section did.</summary>
    public async Task ApplyAsync(ServeSettings settings)
    {
        _file = settings.File;
        await ApplyKernelAsync(settings.Kernel).ConfigureAwait(false);
        await ApplyCrowdSecAsync(settings.CrowdSec).ConfigureAwait(false);
    }

    private void StartKernel(KernelSettings settings)
    {
        var kernel = new KernelSync(bans?.Store, settings.Options, new KernelGateLog(log));
        if (settings.Rules(live: true) is { } rules)
            kernel.Use(rules);
        _kernel = kernel;
        _kernelStart = FirstWriteAsync(kernel);
    }

    /// <summary>
    /// The kernel side's first write, in the background. A refusal is logged by the kernel side (and retried
    /// by its loop); one still running after <see cref="SlowFirstWrite"/> (an nft that hangs is killed at
    /// 60 s, a fallback to the input hook runs nft up to three times) is said here, once.
    /// </summary>
    private async Task FirstWriteAsync(KernelSync kernel)
    {
        var write = kernel.StartAsync();
        using var slow = new CancellationTokenSource();
        if (await Task.WhenAny(write, Task.Delay(SlowFirstWrite, slow.Token)).ConfigureAwait(false) != write)
            log.Gate(SyslogSeverity.Warning, $"warning: kernel: the first write of table inet {KernelOptions.Table} has not finished after {SlowFirstWrite.TotalSeconds:0} s (nft slow or hung); the gate serves meanwhile and refuses banned clients itself");
        await slow.CancelAsync().ConfigureAwait(false);
        try
        {
            if (await write.ConfigureAwait(false))
                log.Gate(SyslogSeverity.Info, $"kernel: table inet {KernelOptions.Table} written: {kernel.Elements} ban element(s), {kernel.Daemons.Count} daemon port(s) with address rules");
        }
        catch (OperationCanceledException)
        {
            // Stopped (the gate, or a reload that turned the kernel side off) before the first write was done.
        }
    }

    /// <summary>Stops the kernel side: an nft it runs is killed, and its first write, if still under way, ends before this does.</summary>
    private async Task StopKernelAsync()
    {
        await _kernel!.DisposeAsync().ConfigureAwait(false);
        await _kernelStart.ConfigureAwait(false);
    }

    private async Task ApplyKernelAsync(KernelSettings? next)
    {
        var was = _kernelSettings;
        if (Same(was, next))
        {
            // The same settings: in the input-hook fallback the reload still asks about fib again.
            _kernel?.AskAboutFib();
            return;
        }
        _kernelSettings = next;
        if (_kernel is null)
        {
            if (next is { Enabled: true })
                StartKernel(next);
            return;
        }
        if (next is not { Enabled: true })
        {
            // Turned off: the table goes with the kernel side, so nothing the gate no longer
            // follows stays in force in the kernel (the gate refuses banned clients itself).
            // Stopped first, so that no write of its own (a first write still under way, a
            // reconciliation) can put the table back after it is removed.
            await StopKernelAsync().ConfigureAwait(false);
            var error = await _kernel.RemoveAsync(CancellationToken.None).ConfigureAwait(false);
            _kernel = null;
            if (error is null)
                log.Gate(SyslogSeverity.Info, $"kernel: nftables = no: table inet {KernelOptions.Table} removed");
            else
                log.Gate(SyslogSeverity.Err, $"error: kernel: nftables = no, but table inet {KernelOptions.Table} could not be removed: {error}; remove it with `giftwrap kernel flush`");
            return;
        }
        if (await _kernel.ReconfigureAsync(next.Options, next.Rules(live: true), CancellationToken.None).ConfigureAwait(false))
            log.Gate(SyslogSeverity.Info, $"kernel: reloaded: table inet {KernelOptions.Table} written: {_kernel.Elements} ban element(s), {_kernel.Daemons.Count} daemon port(s) with address rules");
        _kernel.AskAboutFib();
    }

    private void StartCrowdSec(CrowdSecOptions options)
    {
        _crowdSecOptions = options;
        // [crowdsec] needs [bans] (Settings checks it); a [bans] added by a reload has no store until a restart.
        if (bans is null)
        {
            log.Gate(SyslogSeverity.Warning, $"warning: {_file!.Where("crowdsec", "lapi")}: the bouncer needs the ban store, which the gate opens at start: restart the gate to follow CrowdSec");
            return;
        }
        _crowdsec = CrowdSecBouncer.Start(bans.Store, options, new FleetLog(log, _file!.Where("crowdsec", "lapi"), topic: null));
    }

    private async Task ApplyCrowdSecAsync(CrowdSecOptions? next)
    {
        if (Same(_crowdSecOptions, next))
            return;
        // A new bouncer starts from the full list and reconciles the store with it, so bans of
        // origins no longer followed are lifted and none is lost between the two.
        if (_crowdsec is not null)
            await _crowdsec.DisposeAsync().ConfigureAwait(false);
        _crowdsec = null;
        _crowdSecOptions = null;
        if (next is not null)
        {
            StartCrowdSec(next);
            log.Gate(SyslogSeverity.Info, $"crowdsec: reloaded: following {next.Lapi}");
        }
    }

    private static bool Same(KernelSettings? a, KernelSettings? b) =>
        (a, b) switch
        {
            (null, null) => true,
            ({ } x, { } y) => x.Enabled == y.Enabled && x.Allow == y.Allow && x.Deny == y.Deny
                && x.Options.Reconcile == y.Options.Reconcile && x.Options.Ports.SequenceEqual(y.Options.Ports)
                && x.Options.Protect.SequenceEqual(y.Options.Protect) && x.Options.Nft.SequenceEqual(y.Options.Nft),
            _ => false,
        };

    private static bool Same(CrowdSecOptions? a, CrowdSecOptions? b) =>
        (a, b) switch
        {
            (null, null) => true,
            ({ } x, { } y) => x with { Origins = NoOrigins } == y with { Origins = NoOrigins } && x.Origins.SequenceEqual(y.Origins),
            _ => false,
        };

    public async ValueTask DisposeAsync()
    {
        if (_crowdsec is not null)
            await _crowdsec.DisposeAsync().ConfigureAwait(false);
        if (_kernel is not null)
            await StopKernelAsync().ConfigureAwait(false);
    }
}
