// Talking to Redis: sending records through a script that keeps only the newest record
// per target (same order as FleetRecord.IsNewerThan) and publishes what it stored, and
// the full exchange run on every (re)connect: find the host's changes the ledger missed
// (made while no fleet layer ran), push every record the fleet may lack (Redis may have
// come back empty), pull every record this member lacks, forget expired ones.
using StackExchange.Redis;

namespace Giftwrap.Bans.Redis;

public sealed partial class BanFleet
{
    // KEYS[1] the hash, KEYS[2] the epoch marker; ARGV: target, json, version, kind (B|U), origin, channel,
    // claimed version ('' for none), the epoch this member last saw ('' for none), '1' when it saw the list hold records.
    // Stores and publishes only a record newer than the stored one: a late or repeated send changes nothing.
    // Returns 1 when stored, plus 2 when the list seen is gone or the marker is not the one seen (FLUSHALL, the key deleted).
    // A future-dated record and its bounded copy (FleetRecord.Claimed) are one record: the copy takes the
    // place of the record as dated, and the record as dated sent again does not take it back.
    private const string PutScript = """
        local gone = 0
        if ARGV[8] ~= '' and ((ARGV[9] == '1' and redis.call('EXISTS', KEYS[1]) == 0) or redis.call('GET', KEYS[2]) ~= ARGV[8]) then gone = 2 end
        local cur = redis.call('HGET', KEYS[1], ARGV[1])
        if cur then
          local ok, c = pcall(cjson.decode, cur)
          if ok and type(c) == 'table' and tonumber(c.v) then
            local v, cv = tonumber(ARGV[3]), tonumber(c.v)
            local rk = (ARGV[4] == 'U') and 1 or 0
            local ck = (c.k == 'U') and 1 or 0
            local same = ck == rk and tostring(c.o) == ARGV[5]
            if same and tonumber(c.fv) == v then return gone end
            if not (same and tonumber(ARGV[7]) == cv) then
              if cv > v then return gone end
              if cv == v then
                if ck > rk then return gone end
                if ck == rk and tostring(c.o) >= ARGV[5] then return gone end
              end
            end
          end
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('PUBLISH', ARGV[6], ARGV[2])
        return 1 + gone
        """;

    // KEYS[1] the epoch marker, ARGV[1] a new epoch: the marker, set to ARGV[1] unless another member set it first.
    private const string EpochScript = """
        if redis.call('SET', KEYS[1], ARGV[1], 'NX') then return ARGV[1] end
        return redis.call('GET', KEYS[1])
        """;

    // Removes a record only if nobody replaced it since it was read.
    private const string ForgetScript = """
        if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
        return 0
        """;

    // Records are forgotten this long after their keep time, so that members whose clocks differ a little agree.
    private static readonly long ForgetGraceMs = (long)TimeSpan.FromHours(1).TotalMilliseconds;

    /// <summary>Fsyncs the ledger, then sends <paramref name="outgoing"/>; a failure of either leaves the sending to the next sync.</summary>
    private async Task SendAsync(List<FleetRecord> outgoing)
    {
        try
        {
            _ledger.Flush();
            if (outgoing.Count == 0)
                return;
            if (!_redis.IsConnected)
            {
                _needSync = true;
                return;
            }
            await PutAsync(outgoing).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis is away: the records are in the ledger and the store; the exchange after the reconnect sends them.
            _needSync = true;
            if (Failed())
                SendFailed(_log, outgoing.Count, ex.Message);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The ledger could not be written (a full disk): nothing goes out unrecorded. The records are in
            // the store and in the ledger's memory, and the next exchange sends them once it can write. This
            // escaped the worker's send after a batch and ended the worker: the member left the fleet for good.
            _needSync = true;
            if (Failed())
                WorkFailed(_log, ex);
        }
        finally
        {
            outgoing.Clear();
        }
    }

    /// <summary>
    /// Counts a failed send or exchange; true for the first since the last good exchange, which alone
    /// is logged. The watchdog's next exchange waits 1 s, then 2, 4, at most 8 (a reconnect does not wait):
    /// a Redis paused past its timeouts, or a list key of the wrong type, failed every 200 ms tick and logged each.
    /// </summary>
    private bool Failed()
    {
        _failures++;
        Interlocked.Exchange(ref _retryAtMs, NowMs() + (1000L << Math.Min(_failures - 1, 3)));
        return _failures == 1;
    }

    /// <summary>
    /// Sends <paramref name="records"/> through the script. Outside an exchange, a list gone or an epoch marker not the
    /// one this member saw means Redis was emptied without a restart (FLUSHALL, the key deleted): no connection was
    /// lost, and the list held only what was sent since, until the next resync (5 minutes). It starts an exchange at once.
    /// </summary>
    private async Task PutAsync(IReadOnlyList<FleetRecord> records, bool exchanging = false)
    {
        var db = _redis.GetDatabase();
        var channel = _channel.ToString();
        var epoch = _epoch ?? RedisValue.EmptyString;
        var gone = false;
        for (var i = 0; i < records.Count; i += BatchLimit)
        {
            var batch = records.Skip(i).Take(BatchLimit).Select(r => db.ScriptEvaluateAsync(PutScript, [_listKey, _epochKey],
                [r.Target.ToString(), r.ToJson(), r.Version, r.Kind == RecordKind.Ban ? "B" : "U", r.Origin, channel,
                    r.Claimed is { } claimed ? claimed : RedisValue.EmptyString, epoch, _listSeen ? "1" : ""])).ToList();
            var results = (await Task.WhenAll(batch).ConfigureAwait(false)).Select(x => (long)x).ToList();
            Interlocked.Add(ref _published, results.Count(x => (x & 1) == 1));
            gone |= results.Any(x => (x & 2) == 2);
            _listSeen = true; // the script made it if it was not there
        }
        if (gone && !exchanging)
        {
            _epoch = null;
            _needSync = true;
            Interlocked.Exchange(ref _retryAtMs, 0);
            ListGone(_log, _listKey.ToString());
        }
    }

    /// <summary>The fleet's epoch marker, made by this member when Redis has none (a new or emptied Redis).</summary>
    private async Task<string?> EpochAsync() =>
        (string?)await _redis.GetDatabase().ScriptEvaluateAsync(EpochScript, [_epochKey], [Guid.NewGuid().ToString("N")]).ConfigureAwait(false);

    private async Task<bool> SyncNowAsync()
    {
        if (!_redis.IsConnected)
            return false;
        // Cleared first: a connection lost during the exchange sets it again and another exchange follows.
        _needSync = false;
        try
        {
            if (!_subscribed || Interlocked.Exchange(ref _resubscribe, 0) == 1)
                await SubscribeAsync().ConfigureAwait(false);
            var missed = new List<FleetRecord>();
            Reconcile(missed);
            _ledger.Flush();
            var nowMs = NowMs();
            // The marker first: what this exchange sends is then in the list of that epoch, and a later
            // send that finds the marker changed or the list gone knows Redis was emptied since.
            _epoch = await EpochAsync().ConfigureAwait(false);
            await PutAsync([.. _ledger.All.Where(r => !r.LocalOnly && !(r.Record.KeepUntil + ForgetGraceMs < nowMs)).Select(r => r.Record)],
                exchanging: true).ConfigureAwait(false);
            // The bounded copies of future-dated records read from the list go back in their place at once.
            await PutAsync(await PullAsync(nowMs).ConfigureAwait(false), exchanging: true).ConfigureAwait(false);
            _listSeen = await _redis.GetDatabase().KeyExistsAsync(_listKey).ConfigureAwait(false);
            _ledger.Forget(nowMs, ForgetGraceMs);
            _ledger.Flush();
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Redis went away during the exchange: try again once it is back.
            _needSync = true;
            if (Failed())
                SyncFailed(_log, ex.Message);
            return false;
        }
        _failures = 0;
        Interlocked.Exchange(ref _lastSyncMs, NowMs());
        var syncs = Interlocked.Increment(ref _syncs);
        Synced(_log, _ledger.Count, syncs);
        Raise(new FleetNotice(FleetNoticeKind.Synced, null, "", $"exchanged with the fleet ({_ledger.Count} records known)"));
        return true;
    }

    /// <summary>
    /// Changes the store holds that the ledger never saw (made while no fleet layer ran on
    /// this host): an active ban newer than the ledger's record, or a ban the ledger knows
    /// that the store ended before its expiry (an unban). They go through the rate cap like any local change.
    /// </summary>
    private void Reconcile(List<FleetRecord> outgoing)
    {
        var now = _store.Options.Time.GetUtcNow();
        // List(MinValue) is every entry the store holds, history included: the store has no public "all entries".
        foreach (var entry in _store.List(DateTimeOffset.MinValue))
        {
            var known = _ledger.Get(entry.Target);
            if (entry.IsActive(now))
            {
                if (FleetRecord.FromEntry(entry).IsNewerThan(known))
                    OnLocal(new BanChange { Kind = BanChangeKind.Banned, Target = entry.Target, Entry = entry, At = entry.Created, Origin = entry.Origin }, outgoing);
                continue;
            }
            if (known is { Kind: RecordKind.Ban } k && k.Version == entry.Created.ToUnixTimeMilliseconds()
                && entry.Expires is { } ended && (k.Expires is null || k.Expires > ended.ToUnixTimeMilliseconds()))
            {
                OnLocal(new BanChange { Kind = BanChangeKind.Unbanned, Target = entry.Target, At = ended, Origin = _store.Options.Origin }, outgoing);
            }
        }
    }

    /// <summary>
    /// Subscribes to the fleet's channel, before the pull: a change published during the pull then
    /// arrives too (applied once, by version). After a lost connection the subscription is made anew:
    /// the client moves it to a live server on its own, but later than the exchange may run (under
    /// Sentinel, the promoted replica), and a record a member re-sent meanwhile would then reach this
    /// one only at the next resync. Made again and confirmed by the server before the pull, every record
    /// is either in the list pulled or published after the subscription and so received.
    /// </summary>
    private async Task SubscribeAsync()
    {
        var subscriber = _redis.GetSubscriber();
        try
        {
            if (_subscribed)
            {
                // Fire and forget: the server it was on may be gone; the handler goes at once either way.
                await subscriber.UnsubscribeAsync(_channel, null, CommandFlags.FireAndForget).ConfigureAwait(false);
                _subscribed = false;
            }
            await subscriber.SubscribeAsync(_channel, (_, value) => Received(value)).ConfigureAwait(false);
            _subscribed = true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // Not confirmed: made again at the next exchange, which the caller's handler schedules.
            Interlocked.Exchange(ref _resubscribe, 1);
            throw;
        }
    }

    /// <summary>
    /// Queues a record from the channel for the worker. A worker behind a flood (a rogue publisher, a
    /// slow disk) let the queue grow without bound; past RemoteQueueLimit a record is dropped and an
    /// exchange reads the list, where the script stores every record before it publishes it.
    /// </summary>
    private void Received(RedisValue value)
    {
        if (!value.HasValue)
            return;
        if (Interlocked.Increment(ref _remoteQueued) > RemoteQueueLimit)
        {
            Interlocked.Decrement(ref _remoteQueued);
            Interlocked.Increment(ref _remoteDropped);
            _needSync = true;
            _dropped.Add("");
            LogTallies(force: false);
            return;
        }
        _work.Writer.TryWrite(new Work.Remote(value));
    }

    /// <summary>
    /// Reads the whole list: records past their keep time are forgotten, the others applied a batch of distinct
    /// targets at a time. Returns the bounded copies of future-dated records applied, to be sent in their place.
    /// </summary>
    private async Task<List<FleetRecord>> PullAsync(long nowMs)
    {
        var db = _redis.GetDatabase();
        var forget = new List<Task>();
        var batch = new List<FleetRecord>();
        var targets = new HashSet<BanTarget>();
        var bounded = new List<(FleetRecord Admitted, FleetRecord Read)>();
        await foreach (var field in db.HashScanAsync(_listKey, pageSize: 1000).ConfigureAwait(false))
        {
            if (Read(field.Value) is not { } record)
                continue;
            if (record.KeepUntil is { } keep && keep + ForgetGraceMs < nowMs)
            {
                forget.Add(db.ScriptEvaluateAsync(ForgetScript, [_listKey], [record.Target.ToString(), field.Value]));
                continue;
            }
            // A target twice in the list (a planted copy under another field): the first is applied
            // and in the ledger before the second is weighed against it.
            if (targets.Contains(record.Target) || batch.Count == BatchLimit)
                ApplyBatch(batch, targets);
            if (Admit(record) is { } admitted)
            {
                batch.Add(admitted);
                targets.Add(record.Target);
                if (admitted.Claimed is not null)
                    bounded.Add((admitted, record));
            }
        }
        ApplyBatch(batch, targets);
        await Task.WhenAll(forget).ConfigureAwait(false);
        var outgoing = new List<FleetRecord>();
        foreach (var (admitted, read) in bounded)
            Rebound(admitted, read, outgoing);
        return outgoing;
    }

    private void ApplyBatch(List<FleetRecord> batch, HashSet<BanTarget> targets)
    {
        if (batch.Count > 0)
            Apply(batch);
        batch.Clear();
        targets.Clear();
    }
}
