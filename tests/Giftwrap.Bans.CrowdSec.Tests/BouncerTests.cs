// The bouncer against a real CrowdSec Local API (CrowdSecLapi): decisions added and deleted
// with cscli reach the ban store as bans and unbans, with CrowdSec's duration and origin; a
// restart reconciles without dropping or resurrecting; an outage keeps the bans in force, is
// logged once and counted, and the bouncer catches up when the LAPI is back.
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace Giftwrap.Bans.CrowdSec.Tests;

public sealed class BouncerTests : IDisposable
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-bouncer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private BanStore OpenStore() => BanStore.Open(new BanOptions { Store = Path.Combine(_dir, "store"), Origin = "gate-a", IncrementFactor = 4 });

    private static CrowdSecOptions Options(CrowdSecLapi lapi, string keyFile) => new()
    {
        Lapi = new Uri(lapi.Url),
        ApiKey = File.ReadAllText(keyFile).Trim(),
        Poll = TimeSpan.FromMilliseconds(200),
        Timeout = TimeSpan.FromSeconds(10),
        FirstBackoff = TimeSpan.FromMilliseconds(100),
        MaxBackoff = TimeSpan.FromMilliseconds(400),
    };

    private static BanEntry? Active(BanStore store, string target)
    {
        var e = store.Get(BanTarget.Parse(target));
        return e is not null && e.IsActive(DateTimeOffset.UtcNow) ? e : null;
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        using var cts = new CancellationTokenSource(Within);
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail($"still not so after {Within.TotalSeconds} s: {what}");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Bouncer_FollowsIpAndRangeDecisions_WithCrowdSecsDurationAndReason_AndDeletionsUnban()
    {
        using var lapi = new CrowdSecLapi();
        var key = lapi.AddBouncer("gate-a");
        using var store = OpenStore();
        // An earlier offence: with escalation (factor 4) CrowdSec's 2h would become 8h here.
        store.Ban(new BanRequest { Target = BanTarget.Parse("10.1.2.3"), Duration = TimeSpan.FromMinutes(1) });
        store.Unban(BanTarget.Parse("10.1.2.3"));
        store.Ban(new BanRequest { Target = BanTarget.Parse("10.1.2.99"), Duration = TimeSpan.FromHours(1), Reason = "by hand" });
        lapi.Cscli("decisions", "add", "-i", "10.1.2.3", "-d", "2h", "-R", "crowdsecurity/ssh-bf");
        lapi.Cscli("decisions", "add", "-r", "10.9.0.0/16", "-d", "30m");
        lapi.Cscli("decisions", "add", "-i", "10.1.2.50", "-d", "1h", "-t", "captcha");

        await using var bouncer = CrowdSecBouncer.Start(store, Options(lapi, key));
        await Until(() => Active(store, "10.1.2.3") is not null && Active(store, "10.9.0.0/16") is not null, "the startup list in the store");
        var ip = Active(store, "10.1.2.3")!;
        Assert.Equal("crowdsec/cscli: crowdsecurity/ssh-bf", ip.Reason);
        Assert.InRange(ip.Expires!.Value - DateTimeOffset.UtcNow, TimeSpan.FromHours(2) - TimeSpan.FromMinutes(2), TimeSpan.FromHours(2));
        Assert.True(bouncer.IsOurs(ip));
        var range = Active(store, "10.9.0.0/16")!;
        Assert.InRange(range.Expires!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(28), TimeSpan.FromMinutes(30));
        Assert.StartsWith("crowdsec/cscli: ", range.Reason);
        Assert.NotNull(store.Find(IPAddress.Parse("10.9.200.7"), "sshd", DateTimeOffset.UtcNow));
        Assert.Null(Active(store, "10.1.2.50")); // a captcha is not a ban

        // Deltas: a new decision bans, deleted ones unban; the operator's own ban is not CrowdSec's to lift.
        lapi.Cscli("decisions", "add", "-i", "10.1.2.4", "-d", "1h");
        await Until(() => Active(store, "10.1.2.4") is not null, "a new decision banned");
        lapi.Cscli("decisions", "delete", "-i", "10.1.2.3");
        lapi.Cscli("decisions", "delete", "-r", "10.9.0.0/16");
        await Until(() => Active(store, "10.1.2.3") is null && Active(store, "10.9.0.0/16") is null, "deleted decisions unbanned");
        Assert.Null(store.Find(IPAddress.Parse("10.9.200.7"), "sshd", DateTimeOffset.UtcNow));
        Assert.NotNull(Active(store, "10.1.2.4"));
        Assert.Equal("by hand", Active(store, "10.1.2.99")?.Reason);
    }

    [Fact]
    public async Task Bouncer_AfterARestart_NeitherDropsNorResurrects_AndLeavesUnchangedBansAlone()
    {
        using var lapi = new CrowdSecLapi();
        var key = lapi.AddBouncer("gate-a");
        lapi.Cscli("decisions", "add", "-i", "10.2.0.1", "-d", "4h");
        lapi.Cscli("decisions", "add", "-i", "10.2.0.2", "-d", "4h");
        DateTimeOffset created;
        using (var store = OpenStore())
        {
            await using (var bouncer = CrowdSecBouncer.Start(store, Options(lapi, key)))
                await Until(() => Active(store, "10.2.0.1") is not null && Active(store, "10.2.0.2") is not null, "both decisions banned");
            created = Active(store, "10.2.0.1")!.Created;
        }

        // While the gate is down: one decision deleted, one added.
        lapi.Cscli("decisions", "delete", "-i", "10.2.0.2");
        lapi.Cscli("decisions", "add", "-i", "10.2.0.3", "-d", "4h");

        using (var store = OpenStore())
        {
            Assert.NotNull(Active(store, "10.2.0.2")); // still in the store until the bouncer runs
            await using var bouncer = CrowdSecBouncer.Start(store, Options(lapi, key));
            await Until(() => bouncer.Polls >= 2, "the full list and one delta");
            Assert.NotNull(Active(store, "10.2.0.3"));
            Assert.Null(Active(store, "10.2.0.2"));
            Assert.Equal(created, Active(store, "10.2.0.1")?.Created); // kept, not written again
        }
    }

    [Fact]
    public async Task Bouncer_DuringAnOutage_KeepsBans_LogsOnce_CountsFailures_AndCatchesUp()
    {
        using var lapi = new CrowdSecLapi();
        var key = lapi.AddBouncer("gate-a");
        lapi.Cscli("decisions", "add", "-i", "10.3.0.1", "-d", "4h");
        var errors = 0L;
        using var meters = new MeterListener();
        meters.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "Giftwrap" && i.Name == "giftwrap.crowdsec.errors")
                l.EnableMeasurementEvents(i);
        };
        meters.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref errors, v));
        meters.Start();
        var log = new ListLogger();
        using var store = OpenStore();
        await using var bouncer = CrowdSecBouncer.Start(store, Options(lapi, key), log);
        await Until(() => Active(store, "10.3.0.1") is not null, "the decision banned");

        lapi.Stop();
        await Until(() => Interlocked.Read(ref errors) >= 3, "three failed requests counted");
        Assert.NotNull(Active(store, "10.3.0.1"));
        Assert.Single(log.Lines, l => l.Contains("the Local API cannot be used", StringComparison.Ordinal));

        lapi.Start();
        lapi.Cscli("decisions", "add", "-i", "10.3.0.2", "-d", "4h");
        await Until(() => Active(store, "10.3.0.2") is not null, "a decision made after the outage banned");
        Assert.Contains(log.Lines, l => l.Contains("answers again after", StringComparison.Ordinal));
        Assert.Single(log.Lines, l => l.Contains("the Local API cannot be used", StringComparison.Ordinal));
        Assert.NotNull(Active(store, "10.3.0.1"));
    }

    [Fact]
    public async Task Bouncer_EveryResync_ReconcilesWithTheFullList()
    {
        // What the deltas missed is put right by the next full list: here a ban lifted behind the
        // bouncer's back while CrowdSec's decision stands (no delta will ever mention it again).
        using var lapi = new CrowdSecLapi();
        lapi.Cscli("decisions", "add", "-i", "10.7.0.1", "-d", "4h");
        var log = new ListLogger();
        using var store = OpenStore();
        await using var bouncer = CrowdSecBouncer.Start(store, Options(lapi, lapi.AddBouncer("gate-a")) with { Resync = TimeSpan.FromSeconds(1) }, log);
        await Until(() => Active(store, "10.7.0.1") is not null, "the decision banned");
        store.Unban(BanTarget.Parse("10.7.0.1"));
        await Until(() => Active(store, "10.7.0.1") is not null, "the ban restored by a full list");
        Assert.Contains(log.Lines, l => l.Contains("1 ban(s) added, 0 lifted to match", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bouncer_WithAWrongKey_SaysSo_AndBansNothing()
    {
        using var lapi = new CrowdSecLapi();
        lapi.Cscli("decisions", "add", "-i", "10.4.0.1", "-d", "4h");
        var log = new ListLogger();
        using var store = OpenStore();
        var options = Options(lapi, lapi.AddBouncer("gate-a")) with { ApiKey = "not-the-key" };
        await using var bouncer = CrowdSecBouncer.Start(store, options, log);
        await Until(() => log.Lines.Any(l => l.Contains("refused the bouncer's key (403)", StringComparison.Ordinal)), "the refusal logged");
        Assert.Null(Active(store, "10.4.0.1"));
    }
}

/// <summary>Keeps every line logged, for assertions on what an operator would read.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
                return [.. _lines];
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
            _lines.Add($"{logLevel}: {formatter(state, exception)}");
    }
}
