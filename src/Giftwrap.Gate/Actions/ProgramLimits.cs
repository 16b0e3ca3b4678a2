// Bounds on the programs that rules start (spawn, twist, aclexec): how many run at once over the
// whole gate ([actions] max_children) and how many one rule may start per minute
// ([actions] max_starts_per_minute). A program counts from its start until its process group is
// empty: `spawn (mail ...) &` leaves a background job after its shell is reaped, and that job is
// what floods a mail server (hosts_options(5) warns of exactly this). The programs are started
// in a process group of their own (ProcessLauncher), so the group's id is the shell's pid, and the
// kernel does not reuse that id while any member lives. A program that moves itself to another
// group (setsid, a daemon) is no longer counted: it is beyond a parent's reach.
// What is refused is not started, counted in the metrics and summarised in one log line per
// interval (the first at once), never one line per refusal: a flood must not flood the log too.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Giftwrap.Diagnostics;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;

namespace Giftwrap.Gate.Actions;

internal sealed partial class ProgramLimits : IDisposable
{
    private const int ESrch = 3;
    private static readonly TimeSpan GroupPoll = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan SummaryInterval = TimeSpan.FromSeconds(10);

    /// <summary>Rule programs not started because of a limit; tags reason (max_children, max_starts_per_minute), daemon.</summary>
    private static readonly Counter<long> Refusals = GiftwrapMetrics.Meter.CreateCounter<long>(
        "giftwrap.programs.refused", "{program}", "Programs of rules (spawn, twist, aclexec) not started because of an [actions] limit.");

    private readonly GateLog _log;
    private readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly List<int> _lingering = [];
    private readonly Timer _poll;
    private volatile LimitsConfig _limits;
    private int _running;
    private long _refusedChildren;
    private long _refusedRate;
    private string? _lastRule;
    private bool _summaryDue;
    private long _nextSummary;
    private volatile bool _disposed;

    /// <summary>One rule's starts in the current minute.</summary>
    private sealed class Window
    {
        public long Start;
        public int Count;
    }

    public ProgramLimits(GateLog log, LimitsConfig limits)
    {
        _log = log;
        _limits = limits;
        _poll = new Timer(_ => PollGroups(), null, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Programs of rules running now, background jobs included.</summary>
    public int Running => Volatile.Read(ref _running);

    /// <summary>Takes new limits (a reload); programs running now stay counted.</summary>
    public void Update(LimitsConfig limits) => _limits = limits;

    /// <summary>
    /// Whether a program of <paramref name="rule"/> may start now; if so it is counted in, and
    /// <see cref="Started"/> or <see cref="NotStarted"/> must follow. Refusals are counted and summarised.
    /// </summary>
    public bool TryEnter(string rule, string daemon)
    {
        var limits = _limits;
        if (Interlocked.Increment(ref _running) > limits.MaxChildren)
        {
            Interlocked.Decrement(ref _running);
            Refuse("max_children", ref _refusedChildren, rule, daemon);
            return false;
        }
        if (!TakeStart(rule, limits.MaxStartsPerMinute))
        {
            Interlocked.Decrement(ref _running);
            Refuse("max_starts_per_minute", ref _refusedRate, rule, daemon);
            return false;
        }
        return true;
    }

    /// <summary>The program could not be started after all: its place is given back.</summary>
    public void NotStarted() => Interlocked.Decrement(ref _running);

    /// <summary>
    /// <paramref name="pid"/> (a session and group leader) started; <paramref name="exited"/> completes
    /// when it is reaped. Its place is given back when its group is empty.
    /// </summary>
    public void Started(int pid, Task exited) =>
        _ = exited.ContinueWith(_ => Exited(pid), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private void Exited(int pid)
    {
        if (!GroupAlive(pid))
        {
            Interlocked.Decrement(ref _running);
            return;
        }
        lock (_gate)
        {
            _lingering.Add(pid);
            if (_lingering.Count == 1)
                _poll.Change(GroupPoll, GroupPoll);
        }
    }

    /// <summary>Gives back the places of groups whose last member has gone.</summary>
    private void PollGroups()
    {
        lock (_gate)
        {
            for (var i = _lingering.Count - 1; i >= 0; i--)
            {
                if (GroupAlive(_lingering[i]))
                    continue;
                _lingering.RemoveAt(i);
                Interlocked.Decrement(ref _running);
            }
            if (_lingering.Count == 0)
                _poll.Change(Timeout.Infinite, Timeout.Infinite);
        }
    }

    /// <summary>kill(-pgid, 0): ESRCH when no process is left in the group; EPERM means one is (another user's).</summary>
    private static bool GroupAlive(int pgid) => kill(-pgid, 0) == 0 || Marshal.GetLastPInvokeError() != ESrch;

    /// <summary>Counts a start of <paramref name="rule"/> in its current minute; false when the minute is full.</summary>
    private bool TakeStart(string rule, int max)
    {
        var w = _windows.GetOrAdd(rule, static _ => new Window());
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

    private void Refuse(string reason, ref long counter, string rule, string daemon)
    {
        if (Refusals.Enabled)
            Refusals.Add(1, new("reason", reason), new("daemon", daemon));
        Interlocked.Increment(ref counter);
        TimeSpan wait;
        lock (_gate)
        {
            _lastRule = rule;
            if (_summaryDue)
                return;
            _summaryDue = true;
            wait = TimeSpan.FromMilliseconds(Math.Max(0, _nextSummary - Environment.TickCount64));
        }
        if (wait == TimeSpan.Zero)
            Summarise();
        else
            _ = Task.Delay(wait).ContinueWith(_ => Summarise(), TaskScheduler.Default);
    }

    /// <summary>One line for every refusal since the last one.</summary>
    private void Summarise()
    {
        string? rule;
        lock (_gate)
        {
            _summaryDue = false;
            _nextSummary = Environment.TickCount64 + (long)SummaryInterval.TotalMilliseconds;
            rule = _lastRule;
        }
        var children = Interlocked.Exchange(ref _refusedChildren, 0);
        var rate = Interlocked.Exchange(ref _refusedRate, 0);
        // A summary due after the gate stopped has no log to go to (the metric has counted them).
        if (children + rate == 0 || _disposed)
            return;
        var limits = _limits;
        _log.Gate(SyslogSeverity.Warning,
            $"warning: {children + rate} program(s) of rules not started: {children} over [actions] max_children = {limits.MaxChildren}, " +
            $"{rate} over max_starts_per_minute = {limits.MaxStartsPerMinute} (last by {rule}); next summary in {SummaryInterval.TotalSeconds:0}s at the earliest");
    }

    public void Dispose()
    {
        _disposed = true;
        _poll.Dispose();
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
