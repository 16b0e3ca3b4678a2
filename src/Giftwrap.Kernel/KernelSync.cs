// Keeps the kernel's table (inet giftwrap) in step with the ban store, for serve and for
// `giftwrap kernel sync --follow`. Store changes wake one loop, which diffs what the store
// wants against what it last wrote and sends the difference as one nft transaction; a
// refused batch, a missing table or any drift found by reconciliation (after start, on a
// timer, after a foreign ruleset change seen by `nft monitor`) rewrites the whole table in
// one transaction. The kernel's element timeouts are the bans' remaining times, so the
// kernel lets them expire when the store does, without a message from here.
// The drops hang in prerouting before conntrack, for this host's addresses only (KernelHook);
// a kernel that refuses the fib expression there gets them in the input hook instead, and the
// timer's reconciliation (once per period) and a reload ask again, moving them back when fib is there.
// SECURITY: what the kernel drops is a subset of what the store refuses: protected
// addresses are cut out (KernelView), daemon-specific bans stay in user space. When nft
// fails, the gate still refuses every banned client itself: the kernel is a first line only.
using System.Diagnostics;
using System.Text.RegularExpressions;
using Giftwrap.Bans;

namespace Giftwrap.Kernel;

/// <summary>Where the kernel side's log lines go (the gate's log, or a command's standard error).</summary>
public interface IKernelLog
{
    void Info(string message);

    void Warning(string message);

    void Error(string message);
}

/// <summary>What one reconciliation found, and whether it rewrote the table.</summary>
public sealed record KernelReconcile(bool TableMissing, bool StructureChanged, int Missing, int Extra, int WrongTimeout, bool Rewritten, int Elements, string? Error)
{
    public bool Drifted => TableMissing || StructureChanged || Missing + Extra + WrongTimeout > 0;
}

/// <summary>The kernel side: one per process.</summary>
public sealed partial class KernelSync : IAsyncDisposable
{
    // Expiries read back from nft's JSON are whole seconds, and an element may be a few ms from its end.
    private const long Margin = 2500;
    private readonly BanStore? _store;
    private readonly TimeProvider _time;
    private KernelOptions _options; // replaced by a reload, under _gate
    private readonly IKernelLog _log;
    private readonly Nft _nft;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly CancellationTokenSource _stop = new();
    private Dictionary<string, KernelElement> _model = new(StringComparer.Ordinal);
    private IReadOnlyList<DaemonRefusals> _daemons = [];
    private long _nextChange = long.MaxValue; // Unix ms; MaxValue: none
    private int _changed;
    private int _reconcile;
    private int _rewrite;
    private Task<bool>? _start;
    private Task? _loop;
    private Task? _monitorLoop;
    private Process? _monitor;
    private IDisposable? _gauge;
    private KernelRules? _rules;
    private bool _stale; // the last whole-table write failed: the kernel may hold an older table than ours
    private KernelHook _hook = KernelHook.Prerouting; // Input while the kernel refuses fib in prerouting
    private int _probeDue; // set by the timer or a reload: in the fallback, the next reconciliation asks about fib again
    private readonly Queue<long> _drifts = new(); // when the last drifts were put right (TickCount64), under _gate
    private long _quietUntil; // TickCount64: until then foreign changes wait for the timer (another owner keeps rewriting the table)
    private string _foreign = "another process"; // who made the last foreign change, as the monitor's generation line names it

    // More drifts than this within DriftWindowMs is no flushed ruleset or stray edit but another owner of
    // the table (a second gate, or `kernel sync --follow`, with other settings) rewriting it in answer to ours.
    private const int DriftsPerWindow = 10;
    private const long DriftWindowMs = 10_000;

    private const string MovedBack = "kernel: the kernel takes a prerouting chain with fib now; the drops moved from the input hook back to prerouting, before conntrack";

    /// <param name="store">The ban store; null when the host has no [bans] (address rules only).</param>
    /// <param name="options">The [kernel] settings.</param>
    /// <param name="log">Where drift, refused batches and nft's errors are reported.</param>
    public KernelSync(BanStore? store, KernelOptions options, IKernelLog log)
    {
        ArgumentNullException.ThrowIfNull(options);
        _store = store;
        _time = store?.Options.Time ?? TimeProvider.System;
        _options = options;
        _log = log ?? throw new ArgumentNullException(nameof(log));
        _nft = new Nft(options.Nft);
    }

    /// <summary>
    /// The address rules per daemon (part 2): called for every rewrite of the table. Null: no
    /// address rules in the kernel, only bans.
    /// </summary>
    internal Func<IReadOnlyList<DaemonRefusals>>? AddressRules { get; set; }

    /// <summary>The ports bans drop (empty: every TCP port).</summary>
    internal IReadOnlyList<int> BanPorts => [.. _options.Ports.Where(p => !p.Service).Select(p => p.Port).Distinct().Order()];

    /// <summary>Elements in the kernel's ban sets as last written.</summary>
    public int Elements => Volatile.Read(ref _model).Count;

    /// <summary>True while the `nft monitor` child runs.</summary>
    internal bool Monitoring => Volatile.Read(ref _monitor) is { HasExited: false };

    /// <summary>Where the drop chain hangs: prerouting unless the kernel refused it (then input, until it takes fib again).</summary>
    internal KernelHook Hook => _hook;

    /// <summary>Why the drop chain hangs in the input hook (nft's complaint about the prerouting chain); null while it is in prerouting.</summary>
    internal string? HookFallback { get; private set; }

    /// <summary>The address rules as last written to the kernel.</summary>
    internal IReadOnlyList<DaemonRefusals> Daemons => _daemons;

    /// <summary>
    /// Writes the whole table, then follows the store, the timer and the monitor until disposed.
    /// False (and the reason logged) when nft refused the first write; the loop still retries.
    /// Called once. It may be left running (serve listens without waiting for it): disposing
    /// stops it, kills an nft it waits for, and starts nothing after.
    /// </summary>
    public Task<bool> StartAsync() => _start ??= StartCoreAsync();

    private async Task<bool> StartCoreAsync()
    {
        var ok = await RewriteAsync("start", _stop.Token).ConfigureAwait(false);
        // Disposed during the first write (the gate stopped while nft hung): no loop, no monitor, no subscription.
        if (_stop.IsCancellationRequested)
            return false;
        if (_store is not null)
            _store.Changed += OnChanged;
        _gauge = KernelMetrics.ObserveElements(() => Elements);
        _loop = Task.Run(LoopAsync);
        _monitorLoop = Task.Run(MonitorAsync);
        return ok;
    }

    /// <summary>
    /// Puts the address rules of <paramref name="rules"/> in the kernel from the next write on, and
    /// rewrites the table whenever the tables change. The kernel side disposes of them.
    /// </summary>
    internal void Use(KernelRules rules)
    {
        _rules = rules;
        AddressRules = rules.Compile;
        rules.Changed += RulesChanged;
    }

    /// <summary>
    /// A reload's new [kernel] settings (ports, reconcile period, protected addresses) and address
    /// rules (null: bans only): the whole table is written with them in one transaction, so the
    /// kernel goes from the old rules to the new ones with nothing in between. When nft refuses it
    /// the kernel keeps the old table (the transaction is all or nothing), the reason is logged,
    /// and the next reconciliation writes it again. The kernel side disposes of the old rules.
    /// </summary>
    internal async Task<bool> ReconfigureAsync(KernelOptions options, KernelRules? rules, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var old = _rules;
            if (old is not null)
                old.Changed -= RulesChanged;
            _options = options;
            _rules = null;
            AddressRules = null;
            if (rules is not null)
                Use(rules);
            old?.Dispose();
            var ok = await RewriteLockedAsync("reload", ct).ConfigureAwait(false);
            // The loop takes the new reconcile period from its next turn.
            _wake.Release();
            return ok;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// A reload: in the input-hook fallback, the next reconciliation (now, not at the timer's turn) asks
    /// about fib again, so an administrator who loaded nft_fib gets the drops back in prerouting by
    /// reloading. One probe per call; nothing at all while the drops are in prerouting.
    /// </summary>
    internal void AskAboutFib()
    {
        if (_hook != KernelHook.Input)
            return;
        Interlocked.Exchange(ref _probeDue, 1);
        Interlocked.Exchange(ref _reconcile, 1);
        _wake.Release();
    }

    /// <summary>The tables changed: the address rules are compiled again and the table rewritten in one transaction.</summary>
    public void RulesChanged()
    {
        Interlocked.Exchange(ref _rewrite, 1);
        _wake.Release();
    }

    /// <summary>Compares the kernel's table with the store; any difference rewrites the whole table.</summary>
    public async Task<KernelReconcile> ReconcileAsync(string why, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await ReconcileLockedAsync(why, ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Removes Giftwrap's table (and nothing else) from the kernel. Also after <see cref="DisposeAsync"/>,
    /// which is the way to remove it for good: no write of this side can follow to put it back.
    /// </summary>
    public async Task<string?> RemoveAsync(CancellationToken ct)
    {
        var r = await _nft.ApplyAsync(NftScript.Remove(), ct).ConfigureAwait(false);
        return r.Succeeded ? null : r.Error;
    }

    /// <summary>What the kernel holds now, read back from nft; null and the reason when it cannot be read.</summary>
    internal async Task<(KernelContents? Contents, string? Error)> ReadAsync(CancellationToken ct)
    {
        var r = await _nft.ListAsync(ct).ConfigureAwait(false);
        var now = Now();
        if (r.Succeeded)
        {
            return KernelContents.TryParse(r.Stdout, now, out var contents, out var unreadable)
                ? (contents, null)
                : (null, $"nft -j list answered what Giftwrap cannot read ({unreadable})");
        }
        // The table is absent (flushed ruleset, restarted nftables, never written): a state, not an error.
        return r.Stderr.Contains("No such file or directory", StringComparison.Ordinal) ? (KernelContents.Absent, null) : (null, r.Error);
    }

    public async ValueTask DisposeAsync()
    {
        // Stopped first: an nft still running (the first write included) is killed by its pid, and a start
        // still under way ends before the loops are looked for, so none is started behind this.
        await _stop.CancelAsync().ConfigureAwait(false);
        await StoppedAsync(_start).ConfigureAwait(false);
        StopMonitor();
        await StoppedAsync(_loop).ConfigureAwait(false);
        await StoppedAsync(_monitorLoop).ConfigureAwait(false);
        if (_store is not null)
            _store.Changed -= OnChanged;
        _rules?.Dispose();
        _gauge?.Dispose();
        _stop.Dispose();
        _gate.Dispose();
        _wake.Dispose();
    }

    private static async Task StoppedAsync(Task? t)
    {
        if (t is null)
            return;
        try
        {
            await t.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the loop was waiting or running nft.
        }
    }

    private void OnChanged(object? sender, BanChangedEventArgs e)
    {
        Interlocked.Exchange(ref _changed, 1);
        _wake.Release();
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    private KernelView Desired(long now) =>
        KernelView.Build(_store?.List(DateTimeOffset.FromUnixTimeMilliseconds(now)) ?? [], _options.Protect, now);

    private async Task LoopAsync()
    {
        var ct = _stop.Token;
        var lastReconcile = Environment.TickCount64;
        while (!ct.IsCancellationRequested)
        {
            // Read at every turn: a reload may have changed the period.
            var nextReconcile = lastReconcile + (long)Volatile.Read(ref _options).Reconcile.TotalMilliseconds;
            var wait = nextReconcile - Environment.TickCount64;
            if (Volatile.Read(ref _nextChange) is var change and < long.MaxValue)
                wait = Math.Min(wait, change - Now());
            await _wake.WaitAsync(TimeSpan.FromMilliseconds(Math.Clamp(wait, 0, int.MaxValue)), ct).ConfigureAwait(false);
            if (Environment.TickCount64 >= nextReconcile)
            {
                Interlocked.Exchange(ref _reconcile, 1);
                // Only the timer (and a reload: AskAboutFib) lets a reconciliation probe: foreign changes, however many, never do.
                Interlocked.Exchange(ref _probeDue, 1);
                lastReconcile = Environment.TickCount64;
            }
            if (Now() >= Volatile.Read(ref _nextChange))
                Interlocked.Exchange(ref _changed, 1);
            try
            {
                await StepAsync(ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or IOException)
            {
                // nft's JSON not as expected, or a pipe broke: logged, and the next timer or change tries again.
                _log.Error($"kernel: {ex.Message}");
            }
            catch (Exception ex) when (!ct.IsCancellationRequested)
            {
                // Anything else (a bug): logged as one, and the loop goes on. Ended, it would leave the
                // kernel as it is for good, with no line to say so, while the gate kept serving.
                _log.Error($"kernel: internal error ({ex.GetType().Name}): {ex.Message}; the next change or reconciliation tries again");
            }
        }
    }

    private async Task StepAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (Interlocked.Exchange(ref _rewrite, 0) == 1)
            {
                Interlocked.Exchange(ref _changed, 0);
                await RewriteLockedAsync("the tables changed", ct).ConfigureAwait(false);
            }
            if (Interlocked.Exchange(ref _reconcile, 0) == 1)
            {
                Interlocked.Exchange(ref _changed, 0);
                await ReconcileLockedAsync("timer or ruleset change", ct).ConfigureAwait(false);
            }
            if (Interlocked.Exchange(ref _changed, 0) == 1)
                await ApplyChangesLockedAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The difference between what the store wants and what was last written, as one transaction.</summary>
    private async Task ApplyChangesLockedAsync(CancellationToken ct)
    {
        var now = Now();
        var view = Desired(now);
        Volatile.Write(ref _nextChange, view.NextChangeMs is { } n ? n + 200 : long.MaxValue);
        // Elements at (or within ms of) their end are the kernel's to remove: a deletion racing
        // the kernel's own expiry would fail the whole batch.
        var model = _model.Where(kv => kv.Value.ExpiresMs is not { } x || x > now + 50).ToDictionary(StringComparer.Ordinal);
        var delete = model.Values.Where(m => !view.Elements.TryGetValue(m.Key, out var v) || v.ExpiresMs != m.ExpiresMs).ToList();
        var add = view.Elements.Values.Where(v => !model.TryGetValue(v.Key, out var m) || m.ExpiresMs != v.ExpiresMs).ToList();
        if (delete.Count == 0 && add.Count == 0)
        {
            _model = model;
            return;
        }
        var r = await _nft.ApplyAsync(NftScript.Changes(delete, add, now), ct).ConfigureAwait(false);
        KernelMetrics.Transaction("changes", r.Succeeded);
        if (r.Succeeded)
        {
            _model = new Dictionary<string, KernelElement>(view.Elements, StringComparer.Ordinal);
            return;
        }
        _log.Warning($"kernel: nft refused a batch of {delete.Count} removal(s) and {add.Count} addition(s) ({r.Error}); writing the whole table");
        await RewriteLockedAsync("a refused batch", ct).ConfigureAwait(false);
    }

    /// <summary>Writes the whole table now (bans and address rules) in one transaction; false when nft refused it (logged).</summary>
    public async Task<bool> RewriteAsync(string why, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            return await RewriteLockedAsync(why, ct).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<bool> RewriteLockedAsync(string why, CancellationToken ct)
    {
        var now = Now();
        var view = Desired(now);
        Volatile.Write(ref _nextChange, view.NextChangeMs is { } n ? n + 200 : long.MaxValue);
        IReadOnlyList<DaemonRefusals> daemons;
        try
        {
            daemons = AddressRules?.Invoke() ?? [];
        }
        catch (InvalidOperationException ex)
        {
            // Fail closed toward user space: without a compiled answer no address is dropped by
            // the kernel, and every connection reaches the gate, which decides as before.
            _log.Warning($"kernel: address rules not compiled ({ex.Message}); the kernel holds bans only");
            daemons = [];
        }
        var r = await _nft.ApplyAsync(NftScript.Table(view, BanPorts, daemons, now, _hook), ct).ConfigureAwait(false);
        // Stopped with the gate while nft ran (it was killed): nothing to say, and no probe to start.
        if (!r.Succeeded && ct.IsCancellationRequested)
            return false;
        // Refused: when the kernel also refuses the prerouting chain alone, it lacks the hook or fib,
        // and the input hook (all of whose packets are local) does the same job, later in the path.
        if (!r.Succeeded && _hook == KernelHook.Prerouting && await ProbeHookAsync(ct).ConfigureAwait(false) is { } refused)
        {
            var input = await _nft.ApplyAsync(NftScript.Table(view, BanPorts, daemons, now, KernelHook.Input), ct).ConfigureAwait(false);
            if (input.Succeeded)
            {
                _log.Warning($"kernel: the kernel refuses a prerouting chain with fib ({refused}); dropping in the input hook instead, after conntrack");
                r = input;
            }
            else
            {
                // Neither: the cause is elsewhere (nft missing, a bad element); keep trying prerouting.
                _hook = KernelHook.Prerouting;
                HookFallback = null;
            }
        }
        KernelMetrics.Transaction("table", r.Succeeded);
        _stale = !r.Succeeded;
        if (!r.Succeeded)
        {
            _log.Error($"kernel: cannot write table inet {KernelOptions.Table} ({why}): {r.Error}; the gate still refuses banned clients itself");
            return false;
        }
        _model = new Dictionary<string, KernelElement>(view.Elements, StringComparer.Ordinal);
        _daemons = daemons;
        return true;
    }

    /// <summary>
    /// Asks the kernel (check only, nothing committed) whether it takes the prerouting chain with
    /// fib; when it does not, the drop chain moves to the input hook from the next write on, and
    /// nft's complaint is returned (and kept in <see cref="HookFallback"/>).
    /// </summary>
    internal async Task<string?> ProbeHookAsync(CancellationToken ct)
    {
        var r = await _nft.CheckAsync(NftScript.Probe(), ct).ConfigureAwait(false);
        if (r.Succeeded)
        {
            _hook = KernelHook.Prerouting;
            HookFallback = null;
            return null;
        }
        _hook = KernelHook.Input;
        HookFallback = r.Error;
        return r.Error;
    }

    private async Task<KernelReconcile> ReconcileLockedAsync(string why, CancellationToken ct)
    {
        var (contents, error) = await ReadAsync(ct).ConfigureAwait(false);
        if (contents is null)
        {
            // Fail closed: what the kernel holds is unknown (a flushed ruleset looks the same as one
            // in step), so the whole table is written again; the error stays in the report.
            _log.Error($"kernel: cannot read table inet {KernelOptions.Table}: {error}; writing the whole table");
            var written = await RewriteLockedAsync("unreadable table", ct).ConfigureAwait(false);
            return new KernelReconcile(false, false, 0, 0, 0, written, Elements, error);
        }
        // Compared with the hook in use before the probe: moving the chain back is not drift.
        var report = Compare(contents);
        var back = await FibBackAsync(ct).ConfigureAwait(false);
        // After a refused write the kernel may hold an older table that compares as in step
        // with what was last written (a reload's old ports and rules): written again all the same.
        if (!report.Drifted && !back)
        {
            if (!_stale)
                return report;
            var again = await RewriteLockedAsync("after a refused write", ct).ConfigureAwait(false);
            return report with { Rewritten = again, Error = again ? null : "nft refused the table" };
        }
        if (report.Drifted)
        {
            NoteDrift(report, why);
            NoteRewriteWar();
        }
        // The whole table in one transaction: the input chain goes and the prerouting chain comes
        // with the same sets and elements, so no packet meets a moment without the drops.
        var ok = await RewriteLockedAsync(back ? "the kernel takes fib again" : "drift", ct).ConfigureAwait(false);
        if (back && ok && _hook == KernelHook.Prerouting)
            _log.Info(MovedBack);
        return report with { Rewritten = ok, Error = ok ? null : "nft refused the table" };
    }

    private void NoteDrift(KernelReconcile report, string why)
    {
        if (report.TableMissing)
            KernelMetrics.Drifted("table", 1);
        if (report.StructureChanged)
            KernelMetrics.Drifted("structure", 1);
        foreach (var (kind, count) in new[] { ("missing", report.Missing), ("extra", report.Extra), ("timeout", report.WrongTimeout) })
        {
            if (count > 0)
                KernelMetrics.Drifted(kind, count);
        }
        _log.Warning($"kernel: drift ({why}): {Describe(report)}; writing the whole table");
    }

    /// <summary>
    /// Two owners of the table with different settings answer each other's whole-table write with
    /// their own, without end (hundreds a minute, each a transaction on the whole ruleset). Past
    /// <see cref="DriftsPerWindow"/> drifts in <see cref="DriftWindowMs"/>, foreign changes wait for
    /// the timer (once per reconcile period, at least the window) and the error says why, once per pause.
    /// </summary>
    private void NoteRewriteWar()
    {
        var now = Environment.TickCount64;
        _drifts.Enqueue(now);
        while (_drifts.Count > 0 && now - _drifts.Peek() > DriftWindowMs)
            _drifts.Dequeue();
        if (_drifts.Count < DriftsPerWindow)
            return;
        _drifts.Clear();
        var pause = Math.Max((long)_options.Reconcile.TotalMilliseconds, DriftWindowMs);
        Volatile.Write(ref _quietUntil, now + pause);
        _log.Error($"kernel: table inet {KernelOptions.Table} is rewritten by {Volatile.Read(ref _foreign)} again and again ({DriftsPerWindow} drifts in {DriftWindowMs / 1000} s): "
            + $"a second gate or `giftwrap kernel sync --follow` on this host with other settings? Only one may own the table; its changes are now put right once per {pause / 1000} s only");
    }

    /// <summary>
    /// In the fallback, at most once per reconcile period or reload (the timer and AskAboutFib set the
    /// flag, so neither a failing nft nor a storm of foreign changes makes it spin): asks the kernel again, check
    /// only, whether it takes fib in prerouting (nft_fib loaded since). True when it does: the
    /// next write goes to prerouting. While it still refuses nothing changes and nothing is
    /// logged: the fallback was logged once, when it happened.
    /// </summary>
    private async Task<bool> FibBackAsync(CancellationToken ct)
    {
        if (_hook != KernelHook.Input || Interlocked.Exchange(ref _probeDue, 0) == 0)
            return false;
        return await ProbeHookAsync(ct).ConfigureAwait(false) is null;
    }

    /// <summary>What differs between <paramref name="contents"/> and what the store wants now (no change made).</summary>
    internal KernelReconcile Compare(KernelContents contents) => Compare(contents, [.. _daemons.Select(d => d.Ports)]);

    /// <summary>As <see cref="Compare(KernelContents)"/>, for a table whose address rules guard <paramref name="daemonPorts"/> (one list per daemon).</summary>
    internal KernelReconcile Compare(KernelContents contents, IReadOnlyList<IReadOnlyList<int>> daemonPorts)
    {
        var daemons = daemonPorts.Count;
        var now = Now();
        var view = Desired(now);
        var expectedSets = new[] { KernelView.Addresses4, KernelView.Addresses6, KernelView.Networks4, KernelView.Networks6 }
            .Concat(Enumerable.Range(0, daemons).SelectMany(i => new[] { NftScript.RefusalSet(i, false), NftScript.RefusalSet(i, true) }));
        // A drop chain in another hook (a table written before a fallback, or by an older Giftwrap) is rewritten in ours.
        // The rules are compared one for one, not counted: a drop edited into a counter or an accept leaves the count as it was.
        var structure = contents.Exists && (contents.Hook != _hook || contents.Priority != NftScript.Priority(_hook)
            || !contents.Shapes.SequenceEqual(NftScript.Shapes(BanPorts, daemonPorts, _hook), StringComparer.Ordinal) || !expectedSets.All(contents.Sets.Contains));
        // An element at the end of its time may be gone from the kernel already: not drift.
        var missing = view.Elements.Values.Count(v => !contents.Elements.ContainsKey(v.Key) && (v.ExpiresMs is not { } x || x > now + Margin));
        var extra = contents.Elements.Keys.Count(k => !view.Elements.ContainsKey(k));
        var timeout = view.Elements.Values.Count(v => contents.Elements.TryGetValue(v.Key, out var k) && !Close(k, v.ExpiresMs));
        return new KernelReconcile(!contents.Exists, structure, contents.Exists ? missing : 0, extra, timeout, false, view.Elements.Count, null);
    }

    private static bool Close(long? kernel, long? store) =>
        (kernel, store) switch
        {
            (null, null) => true,
            ({ } k, { } s) => Math.Abs(k - s) <= Margin,
            _ => false,
        };

    internal static string Describe(KernelReconcile r) =>
        r.TableMissing ? $"table inet {KernelOptions.Table} missing"
        : $"{(r.StructureChanged ? "chain, rule or set changed; " : "")}{r.Missing} element(s) missing, {r.Extra} extra, {r.WrongTimeout} with a wrong timeout";

    /// <summary>
    /// Follows `nft monitor`: a change to Giftwrap's table made by any process other than our
    /// own nft (a flushed ruleset, a restarted nftables service, a deleted set or element)
    /// triggers a reconciliation at once. The monitor is restarted if it dies.
    /// </summary>
    private async Task MonitorAsync()
    {
        var ct = _stop.Token;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                _monitor = _nft.StartMonitor();
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                _log.Warning($"kernel: cannot start nft monitor ({ex.Message}); foreign changes are found by the timer only");
                return;
            }
            await FollowAsync(_monitor, ct).ConfigureAwait(false);
            StopMonitor();
            if (ct.IsCancellationRequested)
                return;
            _log.Warning("kernel: nft monitor ended; starting it again");
            await Task.Delay(1000, ct).ConfigureAwait(false);
        }
    }

    private async Task FollowAsync(Process monitor, CancellationToken ct)
    {
        var touched = false;
        while (await ReadLineAsync(monitor.StandardOutput, ct).ConfigureAwait(false) is { } line)
        {
            if (line.StartsWith("# new generation", StringComparison.Ordinal))
            {
                var m = GenerationPid().Match(line);
                if (touched && !(m.Success && _nft.IsOurs(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))))
                {
                    Volatile.Write(ref _foreign, m.Success ? $"process {m.Groups[1].Value}" : "another process");
                    // While another owner keeps rewriting the table, its changes wait for the timer (NoteRewriteWar).
                    if (Environment.TickCount64 >= Volatile.Read(ref _quietUntil))
                    {
                        Interlocked.Exchange(ref _reconcile, 1);
                        _wake.Release();
                    }
                }
                touched = false;
            }
            else if (line.Contains(" inet " + KernelOptions.Table + " ", StringComparison.Ordinal) || line.EndsWith(" inet " + KernelOptions.Table, StringComparison.Ordinal))
            {
                touched = true;
            }
        }
    }

    private static async Task<string?> ReadLineAsync(StreamReader reader, CancellationToken ct)
    {
        try
        {
            return await reader.ReadLineAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Stopping, or the monitor's pipe closed under us: the loop decides what comes next.
            return null;
        }
    }

    private void StopMonitor()
    {
        var m = Interlocked.Exchange(ref _monitor, null);
        if (m is null)
            return;
        try
        {
            // Our child, by its pid: stopped with the gate.
            if (!m.HasExited)
                m.Kill();
            m.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        m.Dispose();
    }

    [GeneratedRegex(@"by process (\d+)")]
    private static partial Regex GenerationPid();
}
