// A member of a fleet of hosts sharing one ban list through Redis: the public face and
// its lifecycle. Local changes (the store's Changed event) go out through a Redis script
// that keeps, per target, only the newest record in a hash and publishes it; other
// members' records come in by pub/sub and by a full exchange on every (re)connect.
// All state (the ledger) is touched by one worker loop, so changes apply in order.
// SECURITY: the receiver trusts no sender: protected addresses are refused by the local
// store's ApplyRemote; a ban older than a known unban is refused here; what this member
// sends is capped by [bans] fleet_rate. Not here: deciding (BanStore.Find), the local store.
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace Giftwrap.Bans.Redis;

/// <summary>Joins a <see cref="BanStore"/> to a fleet sharing bans through Redis.</summary>
public sealed partial class BanFleet : IAsyncDisposable
{
    private readonly BanStore _store;
    private readonly FleetOptions _options;
    private readonly ILogger _log;
    private readonly ConnectionMultiplexer _redis;
    private readonly RedisKey _listKey;
    // A marker set by the first exchange after Redis was new or emptied; _epoch is its value as this member last saw it (the worker's alone).
    private readonly RedisKey _epochKey;
    private string? _epoch;
    // True when the list held records at the last exchange or was written since: a send that finds it gone then says so.
    private bool _listSeen;
    private readonly RedisChannel _channel;
    private readonly Channel<Work> _work = Channel.CreateUnbounded<Work>(new UnboundedChannelOptions { SingleReader = true });
    private readonly FleetLedger _ledger;
    private readonly FleetRateLimit _rate;
    private readonly CancellationTokenSource _stop = new();
    private Task _worker = Task.CompletedTask;
    private Task _watchdog = Task.CompletedTask;
    private volatile bool _needSync = true;
    private int _syncQueued;
    private bool _subscribed;
    // 1 after a connection was lost: the next exchange subscribes again before it pulls (BanFleet.Sync.cs).
    private int _resubscribe;
    private long _published, _received, _refused, _keptLocal, _malformed, _syncs;
    private long _lastSyncMs;
    // Failed sends and exchanges since the last good exchange (the worker's alone), and the Unix ms before
    // which the watchdog starts no exchange again: a Redis that fails every try (paused, a key of the wrong type) is said once, tried less often.
    private int _failures;
    private long _retryAtMs;
    private int _disposed;
    private readonly string _endPoints;
    // The link to Redis as last logged: -1 not yet known (joining), 0 down, 1 up. Only changes are logged.
    private int _link = -1;
    private readonly FleetTally _heldBack = new(), _malformedSeen = new(), _dropped = new(), _aheadSeen = new();
    // Records from the channel waiting for the worker: at most RemoteQueueLimit, the rest dropped (BanFleet.Sync.cs).
    private int _remoteQueued;
    private long _remoteDropped;

    /// <summary>Bans kept local over fleet_rate are summed up in one log line per this interval.</summary>
    internal TimeSpan KeptLocalLogInterval { get => _heldBack.Interval; set => _heldBack.Interval = value; }

    /// <summary>Records dated more than MaxSkew ahead are summed up in one log line per this interval.</summary>
    internal TimeSpan DatedAheadLogInterval { get => _aheadSeen.Interval; set => _aheadSeen.Interval = value; }

    /// <summary>The most records from the channel waiting for the worker; past it they are dropped and read from the list by an exchange.</summary>
    internal int RemoteQueueLimit { get; set; } = 10_000;

    /// <summary>Records from the channel dropped past <see cref="RemoteQueueLimit"/> since the member joined.</summary>
    internal long RemoteDropped => Interlocked.Read(ref _remoteDropped);

    /// <summary>Malformed records (read again at every exchange while they stay in Redis) are summed up in one log line per this interval.</summary>
    internal TimeSpan MalformedLogInterval { get => _malformedSeen.Interval; set => _malformedSeen.Interval = value; }

    private BanFleet(BanStore store, FleetOptions options, ILogger log, ConnectionMultiplexer redis)
    {
        _store = store;
        _options = options;
        _log = log;
        _redis = redis;
        _endPoints = string.Join(' ', redis.GetEndPoints().Select(e => e.ToString()));
        _listKey = options.KeyPrefix + ":list";
        _epochKey = options.KeyPrefix + ":epoch";
        _channel = RedisChannel.Literal(options.KeyPrefix + ":changes");
        _rate = new FleetRateLimit(options.Rate);
        _ledger = FleetLedger.Open(options.LedgerPath ?? Path.Combine(store.Directory, "fleet.ledger"),
            (line, error) => LedgerDamaged(_log, line, error));
    }

    /// <summary>Remote changes refused, bans kept local, malformed records, syncs (raised on the fleet's worker).</summary>
    public event EventHandler<FleetNotice>? Notice;

    /// <summary>True while the connection to Redis is up.</summary>
    public bool IsConnected => _redis.IsConnected;

    /// <summary>Counters since joining.</summary>
    public FleetStatus Status => new(
        _redis.IsConnected,
        Interlocked.Read(ref _published),
        Interlocked.Read(ref _received),
        Interlocked.Read(ref _refused),
        Interlocked.Read(ref _keptLocal),
        Interlocked.Read(ref _malformed),
        Interlocked.Read(ref _syncs),
        Interlocked.Read(ref _lastSyncMs) is var ms and > 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);

    /// <summary>
    /// Joins the fleet: connects (or keeps trying in the background when Redis is down: the
    /// member then enforces what it knows and sends its changes when Redis returns), follows
    /// the store's changes and runs a first full exchange before returning when Redis answers.
    /// </summary>
    public static async Task<BanFleet> JoinAsync(BanStore store, FleetOptions options, ILogger? logger = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(options);
        var config = ConfigurationOptions.Parse(options.Redis);
        // Start and keep running without Redis; fail commands at once while it is away (the
        // ledger keeps what was not sent and the next sync sends it) instead of queueing them in memory.
        config.AbortOnConnectFail = false;
        config.BacklogPolicy = BacklogPolicy.FailFast;
        config.ReconnectRetryPolicy ??= new LinearRetry(250);
        config.ClientName ??= $"giftwrap-{store.Options.Origin}";
        // A Redis that accepts TCP and never answers is given a bounded time (the client's defaults,
        // three tries of 5 s, held a gate's start for 15 s); the connection goes on being retried in the background.
        if (!options.Redis.Contains("connectTimeout", StringComparison.OrdinalIgnoreCase))
            config.ConnectTimeout = (int)DefaultConnectTimeout.TotalMilliseconds;
        if (!options.Redis.Contains("connectRetry", StringComparison.OrdinalIgnoreCase))
            config.ConnectRetry = 1;
        var redis = await ConnectionMultiplexer.ConnectAsync(config).ConfigureAwait(false);
        var fleet = new BanFleet(store, options, logger ?? NullLogger.Instance, redis);
        fleet.Start();
        if (redis.IsConnected)
            await fleet.SyncAsync(cancellationToken).ConfigureAwait(false);
        return fleet;
    }

    /// <summary>How long joining waits for Redis to answer unless the connection string says otherwise.</summary>
    public static TimeSpan DefaultConnectTimeout { get; } = TimeSpan.FromSeconds(2);

    /// <summary>Runs a full exchange now (push what the fleet lacks, pull what this member lacks); false when Redis is unreachable.</summary>
    public async Task<bool> SyncAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_work.Writer.TryWrite(new Work.Sync(done)))
            return false;
        return await done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void Start()
    {
        _redis.ConnectionFailed += OnConnectionFailed;
        _redis.ConnectionRestored += OnConnectionRestored;
        _store.Changed += OnStoreChanged;
        if (_redis.IsConnected)
            LinkUp();
        else
            LinkDown("no answer within the connect timeout");
        _worker = Task.Run(WorkAsync);
        _watchdog = Task.Run(WatchAsync);
    }

    private void OnStoreChanged(object? sender, BanChangedEventArgs e)
    {
        // Changes applied from the fleet are not sent back; everything else (this process,
        // the CLI through the journal) is this host's own and goes out.
        if (!e.Change.IsRemote)
            _work.Writer.TryWrite(new Work.Local(e.Change));
    }

    private void OnConnectionFailed(object? sender, ConnectionFailedEventArgs e)
    {
        Interlocked.Exchange(ref _resubscribe, 1);
        _needSync = true;
        if (e.ConnectionType == ConnectionType.Interactive)
            LinkDown(e.FailureType.ToString());
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        // A new connection is worth an exchange at once, whatever failed on the old one.
        Interlocked.Exchange(ref _retryAtMs, 0);
        _needSync = true;
        if (e.ConnectionType == ConnectionType.Interactive)
            LinkUp();
    }

    // One log line and one count per change of the link, however often the client retries.
    private void LinkDown(string failure)
    {
        switch (Interlocked.Exchange(ref _link, 0))
        {
            case 1:
                Disconnected(_log, _endPoints, failure);
                FleetMetrics.LinkChanged("lost", _store.Options.Origin);
                Raise(new FleetNotice(FleetNoticeKind.Disconnected, null, "", $"Redis connection lost ({failure})"));
                break;
            case -1:
                Unreachable(_log, _endPoints, failure);
                FleetMetrics.LinkChanged("unreachable", _store.Options.Origin);
                Raise(new FleetNotice(FleetNoticeKind.Disconnected, null, "", $"Redis not reachable ({failure})"));
                break;
        }
    }

    private void LinkUp()
    {
        switch (Interlocked.Exchange(ref _link, 1))
        {
            case 0:
                Reconnected(_log, _endPoints);
                FleetMetrics.LinkChanged("restored", _store.Options.Origin);
                break;
            case -1:
                Connected(_log, _endPoints);
                break;
        }
    }

    /// <summary>Counts a ban kept local; the log has one line per <see cref="KeptLocalLogInterval"/>, not one per ban.</summary>
    private void HeldBack(string target)
    {
        FleetMetrics.HeldBack(_store.Options.Origin);
        _heldBack.Add(target);
        LogTallies(force: false);
    }

    /// <summary>Counts a malformed record; the log has one line per <see cref="MalformedLogInterval"/>, not one per record.</summary>
    private void MalformedSeen(string error)
    {
        Interlocked.Increment(ref _malformed);
        _malformedSeen.Add(error);
        LogTallies(force: false);
    }

    private void LogTallies(bool force)
    {
        var now = NowMs();
        if (_heldBack.Take(now, force) is { } held)
            KeptLocal(_log, held.Count, _options.Rate.ToString(), held.First);
        if (_malformedSeen.Take(now, force) is { } malformed)
            Malformed(_log, malformed.Count, malformed.First);
        if (_dropped.Take(now, force) is { } dropped)
            Dropped(_log, dropped.Count, RemoteQueueLimit);
        if (_aheadSeen.Take(now, force) is { } ahead)
            DatedAhead(_log, ahead.Count, _options.MaxSkew.ToString(), ahead.First);
    }

    /// <summary>Starts a full exchange whenever one is due and Redis is up: after a reconnect, and every ResyncInterval.</summary>
    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                var now = NowMs();
                // The client's events can be missed (a first connection made late raises none): look too.
                if (_redis.IsConnected)
                    LinkUp();
                else if (Volatile.Read(ref _link) == 1)
                    LinkDown("connection lost");
                LogTallies(force: false);
                if (now - Interlocked.Read(ref _lastSyncMs) > _options.ResyncInterval.TotalMilliseconds)
                    _needSync = true;
                if (_needSync && _redis.IsConnected && now >= Interlocked.Read(ref _retryAtMs) && Interlocked.CompareExchange(ref _syncQueued, 1, 0) == 0)
                    _work.Writer.TryWrite(new Work.Sync(null));
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Leaving the fleet.
        }
    }

    private long NowMs() => _store.Options.Time.GetUtcNow().ToUnixTimeMilliseconds();

    private void Raise(FleetNotice notice)
    {
        try
        {
            Notice?.Invoke(this, notice);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A subscriber's bug must not stop the fleet from applying bans.
            HandlerFailed(_log, ex);
        }
    }

    /// <summary>Leaves the fleet: sends what is queued (when Redis is up), then closes the connection. The store stays open.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _store.Changed -= OnStoreChanged;
        _redis.ConnectionFailed -= OnConnectionFailed;
        _redis.ConnectionRestored -= OnConnectionRestored;
        _work.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _watchdog.ConfigureAwait(false);
        await _worker.ConfigureAwait(false);
        LogTallies(force: true);
        _ledger.Dispose();
        await _redis.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    private abstract record Work
    {
        public sealed record Local(BanChange Change) : Work;

        public sealed record Remote(RedisValue Value) : Work;

        public sealed record Sync(TaskCompletionSource<bool>? Done) : Work;
    }
}
