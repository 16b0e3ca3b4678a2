// Steady-state cost of one decision, AccessTables.Decide(), on the two benchmark
// tables, with live tables (an inotify poll before each decision) and static ones.
using BenchmarkDotNet.Attributes;
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.Benchmarks;

/// <summary>Common setup: tables written to a temp directory, opened live or static, verdicts checked.</summary>
public abstract class DecisionBenchmarkBase
{
    private string? _root;

    /// <summary>true: AccessTablesOptions.Live (inotify poll per decision); false: read once.</summary>
    [Params(true, false)]
    public bool Live { get; set; }

    /// <summary>The opened tables.</summary>
    protected AccessTables Tables { get; private set; } = null!;

    /// <summary>The pair of tables this class decides against.</summary>
    protected abstract BenchTables.Pair PairUnder(string root);

    /// <summary>Writes and opens the tables, then checks the verdicts the benchmarks rely on.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _root = BenchTables.WriteToTemp();
        var pair = PairUnder(_root);
        Tables = new AccessTables(pair.Allow, pair.Deny, new AccessTablesOptions { Live = Live });
        Check();
    }

    /// <summary>Closes the tables and removes the temp directory.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        Tables.Dispose();
        BenchTables.Remove(_root);
    }

    /// <summary>Throws when a probe is not decided as the scenario expects.</summary>
    protected abstract void Check();

    /// <summary>A request as a daemon would make it without lookups: name and user "unknown".</summary>
    protected static AccessRequest Request(string client) => new()
    {
        Daemon = BenchTables.Daemon,
        ClientAddress = client,
        ClientName = AccessRequest.Unknown,
        ClientUser = AccessRequest.Unknown,
        ServerAddress = "127.0.0.1",
        ServerPort = 22,
    };

    /// <summary>Decides once and throws unless the outcome is as expected.</summary>
    protected void Expect(AccessRequest request, bool granted, int? line)
    {
        var d = Tables.Decide(request);
        if (d.IsGranted != granted || d.Match?.Line != line)
            throw new InvalidOperationException($"{request.ClientAddress}: expected granted={granted} line={line}, got {d}");
    }
}

/// <summary>The small 10-rule pair: a client granted by hosts.allow line 4, one refused by hosts.deny's ALL: ALL.</summary>
public class SmallTable : DecisionBenchmarkBase
{
    private readonly AccessRequest _allowed = Request(BenchTables.SmallAllowedClient);
    private readonly AccessRequest _refused = Request(BenchTables.SmallRefusedClient);

    /// <inheritdoc/>
    protected override BenchTables.Pair PairUnder(string root) => BenchTables.Small(root);

    /// <inheritdoc/>
    protected override void Check()
    {
        Expect(_allowed, granted: true, line: 4);
        Expect(_refused, granted: false, line: 5);
    }

    /// <summary>sshd from 10.1.2.3: granted by hosts.allow line 4 (net/mask EXCEPT net/len, with an option).</summary>
    [Benchmark]
    public Decision Allowed() => Tables.Decide(_allowed);

    /// <summary>sshd from 198.51.100.7: no allow rule matches; refused by the last hosts.deny rule.</summary>
    [Benchmark]
    public Decision Refused() => Tables.Decide(_refused);
}

/// <summary>3-rule hosts.allow that matches nothing, and a fail2ban hosts.deny of 100,000 ALL: a.b.c.d lines.</summary>
public class Fail2ban : DecisionBenchmarkBase
{
    private readonly AccessRequest _unlisted = Request(BenchTables.Fail2banUnlistedClient);
    private readonly AccessRequest _last = Request(BenchTables.Fail2banLastClient);

    /// <inheritdoc/>
    protected override BenchTables.Pair PairUnder(string root) => BenchTables.Fail2ban(root);

    /// <inheritdoc/>
    protected override void Check()
    {
        Expect(_unlisted, granted: true, line: null);
        Expect(_last, granted: false, line: BenchTables.Fail2banLines + 1);
    }

    /// <summary>A client on no line: granted by default (libwrap reads all 100,000 lines).</summary>
    [Benchmark]
    public Decision Unlisted() => Tables.Decide(_unlisted);

    /// <summary>The address on the last line: refused by it.</summary>
    [Benchmark]
    public Decision LastLine() => Tables.Decide(_last);
}
