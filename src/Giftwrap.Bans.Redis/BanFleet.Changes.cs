// The worker: one loop that takes local changes, remote records and sync requests in the
// order they came, so the ledger needs no lock. A local change is recorded (fsync) before
// it is sent; a remote record is applied to the store only when it is newer than what the
// ledger knows for its target, which is how an unban wins over an older ban arriving late.
using StackExchange.Redis;

namespace Giftwrap.Bans.Redis;

public sealed partial class BanFleet
{
    private const int BatchLimit = 1000;

    private async Task WorkAsync()
    {
        var outgoing = new List<FleetRecord>();
        var reader = _work.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (outgoing.Count < BatchLimit && reader.TryRead(out var work))
            {
                try
                {
                    switch (work)
                    {
                        case Work.Local l:
                            OnLocal(l.Change, outgoing);
                            break;
                        case Work.Remote r:
                            Interlocked.Decrement(ref _remoteQueued);
                            OnRemote(r.Value, outgoing);
                            break;
                        case Work.Sync s:
                            await SendAsync(outgoing).ConfigureAwait(false);
                            Interlocked.Exchange(ref _syncQueued, 0);
                            var ok = await SyncNowAsync().ConfigureAwait(false);
                            s.Done?.TrySetResult(ok);
                            break;
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
                {
                    // The store or the ledger could not be written (disk full, store closed): the change
                    // is reported and skipped; bans already known stay in force, and the next sync retries.
                    WorkFailed(_log, ex);
                    if (work is Work.Sync s)
                        s.Done?.TrySetResult(false);
                }
            }
            await SendAsync(outgoing).ConfigureAwait(false);
        }
    }

    /// <summary>A change made on this host: record it, then queue it for the fleet unless the rate cap keeps it here.</summary>
    private void OnLocal(BanChange change, List<FleetRecord> outgoing)
    {
        var known = _ledger.Get(change.Target);
        FleetRecord record;
        if (change.Kind == BanChangeKind.Banned && change.Entry is { } entry)
        {
            record = FleetRecord.FromEntry(entry);
        }
        else
        {
            var at = change.At.ToUnixTimeMilliseconds();
            var origin = change.Origin.Length > 0 ? change.Origin : _store.Options.Origin;
            record = FleetRecord.Unban(change.Target, at, origin, TombstoneUntil(known, at));
        }
        record = AfterClockAhead(record, known, change);
        if (known is not null && !record.IsNewerThan(known))
            return; // an echo of a record already known (a reload reports remote bans again)
        if (record.Kind == RecordKind.Ban && !_rate.TryTake(NowMs()))
        {
            _ledger.Put(record, localOnly: true);
            Interlocked.Increment(ref _keptLocal);
            HeldBack(record.Target.ToString());
            Raise(new FleetNotice(FleetNoticeKind.KeptLocal, record.Target, record.Origin,
                $"ban of {record.Target} kept local: over the fleet rate {_options.Rate}"));
            return;
        }
        _ledger.Put(record, localOnly: false);
        outgoing.Add(record);
    }

    /// <summary>
    /// A local unban that loses to the ledger's record only by the clocks: it ended exactly the ban the
    /// ledger knows (the store's entry was created then and is over now), and that ban came from a member
    /// whose clock runs ahead, "made" in this host's future. The unban is ordered just after the ban it
    /// ended. It was taken for an echo and never sent: an operator's unban on this host stayed here while
    /// every other member kept the ban.
    /// </summary>
    private FleetRecord AfterClockAhead(FleetRecord record, FleetRecord? known, BanChange change)
    {
        if (record.Kind != RecordKind.Unban || known is not { Kind: RecordKind.Ban } || record.IsNewerThan(known))
            return record;
        return _store.Get(change.Target) is { } e && !e.IsActive(_store.Options.Time.GetUtcNow())
            && e.Created.ToUnixTimeMilliseconds() == known.Version
            ? record with { Version = known.Version + 1 }
            : record;
    }

    /// <summary>
    /// The tombstone lives as long as the ban it ends could still be in force somewhere;
    /// never less than TombstoneKeep, and for a permanent ban, for ever.
    /// </summary>
    private long? TombstoneUntil(FleetRecord? known, long at)
    {
        var floor = at + (long)_options.TombstoneKeep.TotalMilliseconds;
        if (known is { Kind: RecordKind.Ban, Expires: null })
            return null;
        return known is { Kind: RecordKind.Ban, Expires: { } x } ? Math.Max(x, floor) : floor;
    }

    /// <summary>A record from the fleet's channel; a future-dated one, bounded, goes back out in place of the one sent.</summary>
    private void OnRemote(RedisValue value, List<FleetRecord> outgoing)
    {
        if (Read(value) is { } record && Admit(record) is { } admitted)
        {
            Apply([admitted]);
            Rebound(admitted, record, outgoing);
        }
    }

    /// <summary>The record <paramref name="value"/> holds; null (reported) when malformed. One too long is refused before it is decoded.</summary>
    private FleetRecord? Read(RedisValue value)
    {
        string error;
        var record = value.Length() is var length and > FleetRecord.MaxLength
            ? FleetRecord.Fail(FleetRecord.TooLong(length), out error)
            : FleetRecord.Parse(value.ToString(), out _, out error);
        if (record is null)
        {
            MalformedSeen(error);
            Raise(new FleetNotice(FleetNoticeKind.Malformed, null, "", $"malformed fleet record ignored: {error}"));
        }
        return record;
    }

    /// <summary>
    /// The record as this member orders it when it is new, else null: our own record coming back, a copy
    /// already applied, or an older state (a ban that an unban we know has ended). This is what stops resurrection.
    /// A record dated more than MaxSkew ahead of this clock is ordered as made at this clock plus MaxSkew (its
    /// expiry stays as given): dated 9999 it won over every later change of its target, which was then enforced
    /// where made but never shared. It is still applied (a ban is never dropped for its date), and the same
    /// record read again (the list is read at every exchange) is known by the version it claimed.
    /// </summary>
    private FleetRecord? Admit(FleetRecord record)
    {
        var known = _ledger.Get(record.Target);
        var cap = NowMs() + (long)_options.MaxSkew.TotalMilliseconds;
        if (record.Version > cap)
        {
            if (known is not null && known.Bounds(record))
                return null;
            record = record with { Version = cap, Claimed = record.Version };
            _aheadSeen.Add($"{record.Target} from {record.Origin} dated {record.Claimed}");
            LogTallies(force: false);
        }
        return known is null || record.IsNewerThan(known) ? record : null;
    }

    /// <summary>
    /// Sends the bounded copy of a future-dated record once it is applied: the Redis script puts it in place
    /// of the record as dated (which refused every later change of the target), so the next change wins there too.
    /// </summary>
    private void Rebound(FleetRecord admitted, FleetRecord read, List<FleetRecord> outgoing)
    {
        if (admitted.Bounds(read) && ReferenceEquals(_ledger.Get(admitted.Target), admitted))
            outgoing.Add(admitted);
    }

    /// <summary>
    /// Applies records of distinct targets to the store in one write (one fsync, one hosts.deny rewrite), then
    /// records what was taken. One write per record made a first pull of 20,000 bans take 55 s here.
    /// </summary>
    private void Apply(IReadOnlyList<FleetRecord> records)
    {
        var results = _store.ApplyRemoteMany([.. records.Select(r => r.ToChange())]);
        for (var i = 0; i < records.Count; i++)
            Applied(records[i], results[i]);
    }

    private void Applied(FleetRecord record, BanResult result)
    {
        switch (result.Outcome)
        {
            case BanOutcome.Protected:
                Interlocked.Increment(ref _refused);
                Refused(_log, record.Target.ToString(), record.Origin, result.Message);
                Raise(new FleetNotice(FleetNoticeKind.Refused, record.Target, record.Origin, result.Message));
                return;
            case BanOutcome.Invalid:
                MalformedSeen(result.Message);
                Raise(new FleetNotice(FleetNoticeKind.Malformed, record.Target, record.Origin, result.Message));
                return;
            case BanOutcome.Banned or BanOutcome.Unbanned:
                Interlocked.Increment(ref _received);
                break;
            default:
                break; // Stale, NotBanned: the store knows better or there was nothing to end; the record is still the fleet's newest
        }
        _ledger.Put(record, localOnly: false);
    }
}
