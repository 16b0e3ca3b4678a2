// Traps, PortSentry's idea: a [service:NAME] with `trap = DURATION` has no backend. Every
// connection to it bans its source for that long through the ban store (and so the fleet, and
// whatever else the store feeds), is logged, and is closed at once. The tables are not asked: no
// legitimate client has a reason to connect to a trap port. The store refuses protected
// addresses (loopback unless told otherwise, [bans] protect, [safety] keep): those hits are
// logged and never banned. Bans are capped per trap per minute (trap_bans_per_minute), as the
// fleet caps what a member sends: a flood must fill neither the store nor the log. What goes over
// the cap is not banned, is counted in the metrics, and is summarised in one log line per
// interval (the first at once). The `ban DURATION` rule option stays for traps written in hosts.allow.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;
using Giftwrap.Logging;

namespace Giftwrap.Gate.Connections;

internal sealed class Traps(GateLog log) : IDisposable
{
    private static readonly TimeSpan SummaryInterval = TimeSpan.FromSeconds(10);

    /// <summary>Trap connections whose source was not banned because of trap_bans_per_minute; tag daemon.</summary>
    private static readonly Counter<long> OverRate = GiftwrapMetrics.Meter.CreateCounter<long>(
        "giftwrap.traps.not_banned", "{connection}", "Connections to a trap whose source was not banned: over trap_bans_per_minute.");

    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private volatile bool _disposed;

    /// <summary>One trap's bans in the current minute, and what went over since its last summary.</summary>
    private sealed class Window
    {
        public long Start;
        public int Count;
        public long Excess;
        public bool SummaryDue;
        public long NextSummary;
    }

    /// <summary>
    /// A connection to <paramref name="service"/>, a trap: bans <paramref name="client"/> (within the
    /// cap) and logs it. The caller closes the connection.
    /// </summary>
    public void Caught(IPAddress client, AccessRequest request, ServiceConfig service, IGateBans? bans)
    {
        GiftwrapMetrics.Decided(service.Daemon, VerdictWords.Denied, "trap");
        var w = _windows.GetOrAdd(service.Name, static _ => new Window());
        if (!TakeBan(w, service.TrapBansPerMinute))
        {
            if (OverRate.Enabled)
                OverRate.Add(1, new KeyValuePair<string, object?>("daemon", service.Daemon));
            NoteExcess(w, service);
            return;
        }
        var duration = service.Trap!.Value;
        var said = bans?.Ban(client, duration, $"trap {service.Name}, port {request.ServerPort}", service.Daemon) ?? "no ban store configured";
        // In tcpd's form, so that Fail2ban's filters count it too; the store's answer says whether it banned.
        log.Write(LibwrapLog.RefusedTrap(request, service.Name, said));
    }

    /// <summary>Counts a ban in the trap's current minute; false when the minute is full.</summary>
    private static bool TakeBan(Window w, int max)
    {
        var now = Environment.TickCount64;
        lock (w)
        {
            if (now - w.Start >= 60_000 || w.Count == 0)
            {
                w.Start = now;
                w.Count = 0;
            }
            if (w.Count >= max)
                return false;
            w.Count++;
            return true;
        }
    }

    private void NoteExcess(Window w, ServiceConfig service)
    {
        TimeSpan wait;
        lock (w)
        {
            w.Excess++;
            if (w.SummaryDue)
                return;
            w.SummaryDue = true;
            wait = TimeSpan.FromMilliseconds(Math.Max(0, w.NextSummary - Environment.TickCount64));
        }
        if (wait == TimeSpan.Zero)
            Summarise(w, service);
        else
            _ = Task.Delay(wait).ContinueWith(_ => Summarise(w, service), TaskScheduler.Default);
    }

    /// <summary>One line for every connection over the cap since the trap's last summary.</summary>
    private void Summarise(Window w, ServiceConfig service)
    {
        long excess;
        lock (w)
        {
            w.SummaryDue = false;
            w.NextSummary = Environment.TickCount64 + (long)SummaryInterval.TotalMilliseconds;
            excess = w.Excess;
            w.Excess = 0;
        }
        // A summary due after the gate stopped has no log to go to (the metric has counted them).
        if (excess == 0 || _disposed)
            return;
        log.Daemon(service.Daemon, SyslogSeverity.Warning,
            $"warning: trap {service.Name}: {excess} connection(s) not banned: over trap_bans_per_minute = {service.TrapBansPerMinute}; " +
            $"next summary in {SummaryInterval.TotalSeconds:0}s at the earliest");
    }

    public void Dispose() => _disposed = true;
}
