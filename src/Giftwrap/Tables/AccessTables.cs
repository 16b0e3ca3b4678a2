// The live pair of tables, hosts.allow and hosts.deny: read and compiled once,
// checked for changes before every decision (one syscall, no lock; or once for a batch
// of connections accepted together, after the batch), recompiled only
// when a file's bytes changed, published as an immutable snapshot; released by
// reference count when neither its owner nor a connection being decided holds it.
// The entry point of the core.
using System.Diagnostics.CodeAnalysis;
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
    private readonly AccessTablesOptions _options;
    private readonly ChangeMonitor? _monitor;
    // The tables decisions use now: replaced whole (Volatile), never changed in place.
    private Snapshot _snapshot;
    // 1 while a caller recompiles; the others decide with _snapshot meanwhile.
    private int _reloading;
    private int _compilations;
    // The owner's reference and one per user (a gate's connection being decided); 0: released.
    private int _references = 1;
    private int _disposed;

    // Off in giftwrap-tcpd (its .csproj, trimmed as a constant), which reads its tables once per process
    // (Live = false): with the one allocation of the monitor gone, the inotify watcher and its
    // collections stay out of the binary, whose start relocates every type's method table. Off, a table
    // asked to be live is read once.
    [FeatureSwitchDefinition("Giftwrap.Tables.LiveSupported")]
    private static bool LiveSupported => !AppContext.TryGetSwitch("Giftwrap.Tables.LiveSupported", out var on) || on;

    // Version: the monitor's version the snapshot accounts for (every change queued before it moved).
    private sealed record Snapshot(Loaded Allow, Loaded Deny, PatternFileCache Files, long Version);

    // A table as read, with the paths it was read through (itself and, for a link, its targets).
    private sealed record Loaded(CompiledTable Table, byte[]? Bytes, string[] Dependencies);

    /// <summary>Opens the two tables (missing files are empty tables, as in libwrap).</summary>
    /// <param name="allowPath">hosts.allow: its rules grant access.</param>
    /// <param name="denyPath">hosts.deny: consulted when no hosts.allow rule matched; its rules refuse access.</param>
    /// <param name="options">Live reloading, netgroup and account sources; defaults when <c>null</c>.</param>
    public AccessTables(string allowPath, string denyPath, AccessTablesOptions? options = null)
    {
        _options = options ?? new AccessTablesOptions();
        AllowPath = allowPath;
        DenyPath = denyPath;
        if (_options.Live && LiveSupported)
            _monitor = new ChangeMonitor();
        var version = _monitor?.Version ?? 0;
        var allow = Load(AllowPath, null);
        var deny = Load(DenyPath, null);
        // Live tables register and read their /file lists with the tables; tables read once read a list when it is first evaluated.
        var files = _monitor is null ? PatternFileCache.ReadOnce() : PatternFileCache.Build([.. allow.Table.FileLists, .. deny.Table.FileLists], null, null, Track);
        _snapshot = new Snapshot(allow, deny, files, version);
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
            return (s.Allow.Table.Entries.Length, s.Deny.Table.Entries.Length);
        }
    }

    internal (CompiledTable Allow, CompiledTable Deny) Compiled()
    {
        var s = Current();
        return (s.Allow.Table, s.Deny.Table);
    }

    /// <summary>The /file lists of the tables as they are now.</summary>
    internal PatternFileCache Files => Current().Files;

    internal AccessTablesOptions Options => _options;

    /// <summary>How many times a table was compiled (unchanged files are not compiled again).</summary>
    internal int Compilations => Volatile.Read(ref _compilations);

    /// <summary>The paths followed for changes (tables, their links' targets, /file lists).</summary>
    internal IReadOnlyCollection<string> Tracked => _monitor?.Tracked ?? [];

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

    private Decision Evaluate(Snapshot s, AccessRequest request, bool mayBlock = true) =>
        Evaluator.Evaluate(s.Allow.Table, s.Deny.Table, new EvalContext(request, s.Files, _options.Netgroups, _options.Accounts) { MayBlock = mayBlock });

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
    // No lock: the snapshot is immutable and replaced whole; one caller at a time recompiles (_reloading),
    // and the changes it has not taken stay queued in the monitor for the next one.
    private Snapshot Current()
    {
        var s = Volatile.Read(ref _snapshot);
        if (_monitor is null)
            return s;
        _monitor.Refresh(wait: true);
        if (_monitor.Version == s.Version || Interlocked.CompareExchange(ref _reloading, 1, 0) != 0)
            return s;
        try
        {
            // Another caller may have finished a recompile since the first read.
            s = Volatile.Read(ref _snapshot);
            if (_monitor.Version != s.Version)
            {
                s = Reload(s);
                Volatile.Write(ref _snapshot, s);
            }
            return s;
        }
        finally
        {
            Volatile.Write(ref _reloading, 0);
        }
    }

    /// <summary>
    /// Decides <paramref name="request"/> as <see cref="Decide"/> would, but only when that needs no wait,
    /// for a caller that must not block (an event loop). True with the decision when the compiled tables
    /// are current and the rules reached need nothing looked up: no name or user the request lacks (when
    /// <see cref="AccessRequest.CanLookUp"/> is set) and none of the system's netgroups or accounts
    /// (innetgr, getpwnam: NSS sources that may be remote, so never asked here). False when a file
    /// changed, a recompile is under way or a lookup is needed; the caller then decides the long way
    /// (<see cref="Decide"/> or <see cref="DecideAsync"/>), which recompiles the changes this call found
    /// (they stay queued until a recompile takes them) or, while another caller recompiles, decides with
    /// the old tables until the new ones are ready.
    /// </summary>
    /// <param name="request">The connection's facts.</param>
    /// <param name="decision">The decision (never <see cref="Verdict.NeedsLookup"/>) when the result is true.</param>
    public bool TryDecideWithoutWaiting(AccessRequest request, [NotNullWhen(true)] out Decision? decision) =>
        TryDecideNow(request, refreshed: false, out decision);

    /// <summary>
    /// As <see cref="TryDecideWithoutWaiting"/>; <paramref name="refreshed"/>:
    /// the caller's <see cref="TryRefreshWithoutWaiting"/> returned true after this connection was
    /// accepted, so the check for changes is not made again (a gate's accept batch: one check, made
    /// once the whole batch is accepted, for every connection in it).
    /// </summary>
    internal bool TryDecideNow(AccessRequest request, bool refreshed, [NotNullWhen(true)] out Decision? decision)
    {
        ArgumentNullException.ThrowIfNull(request);
        decision = null;
        if (_monitor is not null && ((!refreshed && !_monitor.Refresh(wait: false)) || Volatile.Read(ref _reloading) != 0))
            return false;
        var s = Volatile.Read(ref _snapshot);
        if (_monitor is not null && _monitor.Version != s.Version)
            return false;
        var decided = Evaluate(s, request, mayBlock: false);
        if (decided.Verdict == Verdict.NeedsLookup)
            return false;
        decision = decided;
        return true;
    }

    /// <summary>
    /// Takes in every change to the files completed before this call, without waiting: false when another
    /// caller holds changes it is handing over (decide then as if this call had not been made).
    /// </summary>
    internal bool TryRefreshWithoutWaiting() => _monitor is null || _monitor.Refresh(wait: false);

    private Snapshot Reload(Snapshot s)
    {
        // Read before the changes are taken: a change queued after this moves the version again.
        var version = _monitor!.Version;
        var changed = _monitor.TakeChanges(out _);
        if (changed is null)
            return s with { Version = version };
        var allow = Array.Exists(s.Allow.Dependencies, changed.Contains) ? Load(AllowPath, s.Allow) : s.Allow;
        var deny = Array.Exists(s.Deny.Dependencies, changed.Contains) ? Load(DenyPath, s.Deny) : s.Deny;
        var files = PatternFileCache.Build([.. allow.Table.FileLists, .. deny.Table.FileLists], s.Files, changed, Track);
        return new Snapshot(allow, deny, files, version);
    }

    private string[] Track(string path) => _monitor?.Track(path) ?? [];

    /// <summary>Reads a table; an unchanged file keeps its compiled form.</summary>
    private Loaded Load(string path, Loaded? previous)
    {
        // Watched before it is read, so a change made after the read is always seen.
        var deps = Track(path);
        switch (TableFile.TryRead(path, out var data, out var error))
        {
            case ReadOutcome.Missing:
                return new Loaded(CompiledTable.Missing(path), null, deps);
            case ReadOutcome.Failed:
                return new Loaded(CompiledTable.Unreadable(path, error!), null, deps);
        }
        if (previous?.Bytes is { } previousBytes && previousBytes.AsSpan().SequenceEqual(data))
            return previous with { Dependencies = deps };
        if (s_compiled.TryGetValue(path, out var shared) && shared.Table.TryGetTarget(out var table)
            && shared.Bytes.TryGetTarget(out var bytes) && bytes.AsSpan().SequenceEqual(data))
        {
            return new Loaded(table, bytes, deps);
        }

        Interlocked.Increment(ref _compilations);
        var compiled = CompiledTable.Compile(path, data);
        s_compiled[path] = (new WeakReference<CompiledTable>(compiled), new WeakReference<byte[]>(data));
        return new Loaded(compiled, data, deps);
    }

    // The tables compiled in this process, by path as given, for as long as some AccessTables holds them:
    // a gate's reload builds new AccessTables, and an unchanged table (a million lines take seconds and
    // hundreds of MB) is then neither compiled nor held twice. Compiled tables are immutable.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, (WeakReference<CompiledTable> Table, WeakReference<byte[]> Bytes)> s_compiled =
        new(StringComparer.Ordinal);

    /// <summary>
    /// Takes a reference for a user of the tables (a connection being decided): false when the tables were
    /// released already (the caller takes the newer tables instead). Each true is paired with <see cref="Release"/>.
    /// </summary>
    internal bool TryAcquire()
    {
        var n = Volatile.Read(ref _references);
        while (n > 0)
        {
            var seen = Interlocked.CompareExchange(ref _references, n + 1, n);
            if (seen == n)
                return true;
            n = seen;
        }
        return false;
    }

    /// <summary>Gives back a reference; the last one stops following the files (their watches go).</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
            _monitor?.Dispose();
    }

    /// <summary>References held now, the owner's included (0: released).</summary>
    internal int References => Volatile.Read(ref _references);

    /// <summary>Gives back the owner's reference: the tables are released once no user holds them.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
            Release();
    }
}
