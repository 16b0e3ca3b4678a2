// The live pair of tables, hosts.allow and hosts.deny: read and compiled once,
// checked for changes before every decision (one syscall), recompiled only when a
// file's bytes changed, swapped atomically. The entry point of the core.
using Giftwrap.Decisions;
using Giftwrap.Rules;

namespace Giftwrap.Tables;

/// <summary>Settings for <see cref="AccessTables"/>.</summary>
public sealed record AccessTablesOptions
{
    /// <summary>Follow changes to the files (the default). When false the tables are read once.</summary>
    public bool Live { get; init; } = true;

    /// <summary>Netgroup membership; the C library's innetgr() by default.</summary>
    public INetgroups Netgroups { get; init; } = SystemNetgroups.Instance;

    /// <summary>Users and groups for the user and group options; the C library by default.</summary>
    public IAccounts Accounts { get; init; } = SystemAccounts.Instance;
}

/// <summary>A decision together with the request as it was finally evaluated (names and user filled in).</summary>
/// <param name="Decision">The verdict, the matched rule and the actions to carry out.</param>
/// <param name="Request">The request with the names and user the lookups found, for %-expanding and logging.</param>
public readonly record struct Judgement(Decision Decision, AccessRequest Request);

/// <summary>hosts.allow and hosts.deny, live, decided against as libwrap's hosts_access() does.</summary>
public sealed class AccessTables : IDisposable
{
    private readonly object _gate = new();
    private readonly AccessTablesOptions _options;
    private readonly ChangeMonitor? _monitor;
    private readonly PatternFileCache _files;
    private readonly string _allowFull;
    private readonly string _denyFull;
    private volatile Snapshot _snapshot;
    private int _compilations;

    private sealed record Snapshot(CompiledTable Allow, byte[]? AllowBytes, CompiledTable Deny, byte[]? DenyBytes);

    /// <summary>Opens the two tables (missing files are empty tables, as in libwrap).</summary>
    /// <param name="allowPath">hosts.allow: its rules grant access.</param>
    /// <param name="denyPath">hosts.deny: consulted when no hosts.allow rule matched; its rules refuse access.</param>
    /// <param name="options">Live reloading, netgroup and account sources; defaults when <c>null</c>.</param>
    public AccessTables(string allowPath, string denyPath, AccessTablesOptions? options = null)
    {
        _options = options ?? new AccessTablesOptions();
        AllowPath = allowPath;
        DenyPath = denyPath;
        _allowFull = Path.GetFullPath(allowPath);
        _denyFull = Path.GetFullPath(denyPath);
        if (_options.Live)
        {
            _monitor = new ChangeMonitor();
            _monitor.Track(_allowFull);
            _monitor.Track(_denyFull);
            _files = new PatternFileCache(_monitor.Track);
        }
        else
        {
            _files = new PatternFileCache(static _ => { });
        }
        var (allow, allowBytes) = Load(AllowPath, null, null);
        var (deny, denyBytes) = Load(DenyPath, null, null);
        _snapshot = new Snapshot(allow, allowBytes, deny, denyBytes);
    }

    /// <summary>The allow table's path, as given.</summary>
    public string AllowPath { get; }

    /// <summary>The deny table's path, as given.</summary>
    public string DenyPath { get; }

    /// <summary>Number of rules (and warned lines) in hosts.allow and hosts.deny as last read.</summary>
    public (int Allow, int Deny) EntryCount
    {
        get
        {
            var s = Current();
            return (s.Allow.Entries.Length, s.Deny.Entries.Length);
        }
    }

    internal (CompiledTable Allow, CompiledTable Deny) Compiled()
    {
        var s = Current();
        return (s.Allow, s.Deny);
    }

    internal PatternFileCache Files => _files;

    internal AccessTablesOptions Options => _options;

    /// <summary>How many times a table was compiled (unchanged files are not compiled again).</summary>
    internal int Compilations => _compilations;

    /// <summary>
    /// Decides <paramref name="request"/> against the tables as they are now, without lookups: when
    /// <see cref="AccessRequest.CanLookUp"/> is set and a rule needs a name or user the request lacks,
    /// the verdict is <see cref="Verdict.NeedsLookup"/>; otherwise missing facts count as <c>unknown</c>.
    /// </summary>
    public Decision Decide(AccessRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Evaluate(Current(), request);
    }

    private Decision Evaluate(Snapshot s, AccessRequest request) =>
        Evaluator.Evaluate(s.Allow, s.Deny, new EvalContext(request, _files, _options.Netgroups, _options.Accounts));

    /// <summary>
    /// Decides, performing the lookups the rules need (each at most once) through <paramref name="lookups"/>.
    /// </summary>
    /// <param name="request">The connection's facts; names and user may be left <c>null</c> to be looked up.</param>
    /// <param name="lookups">Host name and ident lookups (Giftwrap.Net's <c>RequestLookups</c>, or the host's own).</param>
    /// <param name="cancellationToken">Cancels the lookups.</param>
    /// <returns>The decision (never <see cref="Verdict.NeedsLookup"/>) and the request with what was looked up.</returns>
    public async ValueTask<Judgement> DecideAsync(AccessRequest request, IRequestLookups lookups, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(lookups);
        request = request with { CanLookUp = true };
        // sock_hostname()'s warnings ("host name/name mismatch: ...") are logged by libwrap at the
        // moment the name is needed, with the rule being evaluated as their context.
        List<(int At, Diagnostic Warning)>? lookupWarnings = null;
        for (var round = 0; ; round++)
        {
            var decision = Decide(request);
            if (decision.Verdict != Verdict.NeedsLookup)
                return new Judgement(lookupWarnings is null ? decision : decision.WithLookupWarnings(lookupWarnings), request);
            switch (decision.PendingLookup)
            {
                case LookupKind.ClientName:
                case LookupKind.ServerName:
                    var server = decision.PendingLookup == LookupKind.ServerName;
                    var address = (server ? request.ServerAddress : request.ClientAddress) ?? AccessRequest.Unknown;
                    var found = await lookups.LookUpHostNameAsync(address, cancellationToken).ConfigureAwait(false);
                    if (found.Warning is { } warning)
                    {
                        (lookupWarnings ??= []).Add((decision.PendingWarnings,
                            new Diagnostic(decision.PendingFile, decision.PendingLine, 0, DiagnosticSeverity.Warning, "hostname", warning)));
                    }
                    request = server
                        ? request with { ServerName = found.Name, ServerNameStep = decision.PendingStep }
                        : request with { ClientName = found.Name, ClientNameStep = decision.PendingStep };
                    break;
                default:
                    request = request with
                    {
                        ClientUser = await lookups.UserAsync(request, decision.LookupTimeout, cancellationToken).ConfigureAwait(false),
                        ClientUserStep = decision.PendingStep,
                    };
                    break;
            }
        }
    }

    // The tables to decide with. A change is seen by the next decision: the caller that finds it
    // recompiles (so a change written before a decision is seen by it). While a recompile is under way,
    // other callers decide with the tables as they were: a recompile never stalls decisions (a
    // 1,000,000-line table takes seconds), and the old tables decide until the new ones are ready.
    private Snapshot Current()
    {
        if (_monitor is null)
            return _snapshot;
        var spin = new SpinWait();
        while (!Monitor.TryEnter(_gate))
        {
            // Held for a poll (well under a microsecond): wait a little. Held for a recompile: do not wait.
            if (_reloading)
                return _snapshot;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        try
        {
            var changed = _monitor.Poll(out _);
            if (_pendingChanges is { } pending)
            {
                changed = changed is null ? pending : [.. pending, .. changed];
                _pendingChanges = null;
            }
            if (changed is not null)
            {
                _reloading = true;
                try
                {
                    Reload(changed);
                }
                finally
                {
                    _reloading = false;
                }
            }
            return _snapshot;
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    // Changes seen by a caller that could not wait for the recompile; applied by the next Current().
    private volatile List<string>? _pendingChanges;
    private volatile bool _reloading;

    /// <summary>
    /// For a caller that must not block (the gate's event loops): true when the compiled tables are
    /// current, so that <see cref="DecideCurrent"/> decides as <see cref="Decide"/> would. False when
    /// a file changed or a recompile is under way; the caller then decides the long way, where
    /// <see cref="Decide"/> recompiles the changes this call found (or, while another caller recompiles,
    /// decides with the old tables until the new ones are ready).
    /// </summary>
    internal bool IsCurrentWithoutWaiting()
    {
        if (_monitor is null)
            return true;
        if (_reloading || _pendingChanges is not null)
            return false;
        // The lock is held for a poll (well under a microsecond) by another loop, or for a recompile:
        // spin a little for the first, give up at once on the second.
        var spin = new SpinWait();
        while (!Monitor.TryEnter(_gate))
        {
            if (_reloading || spin.NextSpinWillYield)
                return false;
            spin.SpinOnce(sleep1Threshold: -1);
        }
        try
        {
            if (_pendingChanges is not null)
                return false;
            var changed = _monitor.Poll(out _);
            if (changed is null)
                return true;
            // Not recompiled on the thread pool apart from this caller: the connection that found the
            // change decides the long way, and its own Current() recompiles with these changes and decides
            // with the new tables. A separate work item could take the lock first, and this very connection,
            // which came after the write, would then be decided by the tables as they were (a granted client
            // that the new table refuses).
            _pendingChanges = changed;
            return false;
        }
        finally
        {
            Monitor.Exit(_gate);
        }
    }

    /// <summary><see cref="Decide"/> on the tables as last compiled, after <see cref="IsCurrentWithoutWaiting"/> said they are current.</summary>
    internal Decision DecideCurrent(AccessRequest request) => Evaluate(_snapshot, request);

    private void Reload(List<string> changed)
    {
        var s = _snapshot;
        var allow = s.Allow;
        var allowBytes = s.AllowBytes;
        var deny = s.Deny;
        var denyBytes = s.DenyBytes;
        foreach (var path in changed)
        {
            if (path == _allowFull)
                (allow, allowBytes) = Load(AllowPath, allow, allowBytes);
            else if (path == _denyFull)
                (deny, denyBytes) = Load(DenyPath, deny, denyBytes);
            else
                _files.Invalidate(path);
        }
        // A link's target changed: the tables behind links are re-read too.
        if (changed.Any(p => p != _allowFull && p != _denyFull))
        {
            (allow, allowBytes) = Load(AllowPath, allow, allowBytes);
            (deny, denyBytes) = Load(DenyPath, deny, denyBytes);
        }
        _snapshot = new Snapshot(allow, allowBytes, deny, denyBytes);
    }

    /// <summary>Reads a table; an unchanged file keeps its compiled form.</summary>
    private (CompiledTable, byte[]?) Load(string path, CompiledTable? previous, byte[]? previousBytes)
    {
        switch (TableFile.TryRead(path, out var data, out var error))
        {
            case ReadOutcome.Missing:
                return (CompiledTable.Missing(path), null);
            case ReadOutcome.Failed:
                return (CompiledTable.Unreadable(path, error!), null);
        }
        if (previous is not null && previousBytes is not null && previousBytes.AsSpan().SequenceEqual(data))
            return (previous, previousBytes);
        if (s_compiled.TryGetValue(path, out var shared) && shared.Table.TryGetTarget(out var table)
            && shared.Bytes.TryGetTarget(out var bytes) && bytes.AsSpan().SequenceEqual(data))
            return (table, bytes);
        Interlocked.Increment(ref _compilations);
        var compiled = CompiledTable.Compile(path, data);
        s_compiled[path] = (new WeakReference<CompiledTable>(compiled), new WeakReference<byte[]>(data));
        return (compiled, data);
    }

    // The tables compiled in this process, by path as given, for as long as some AccessTables holds them:
    // a gate's reload builds new AccessTables, and an unchanged table (a million lines take seconds and
    // hundreds of MB) is then neither compiled nor held twice. Compiled tables are immutable.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (WeakReference<CompiledTable> Table, WeakReference<byte[]> Bytes)> s_compiled =
        new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public void Dispose() => _monitor?.Dispose();
}
