// A real `giftwrap serve` whose kernel refuses fib at start (an nft wrapper plays the kernel
// without nft_fib): the drops go to the input hook, logged once. When fib comes (the wrapper
// finds its flag file), the timer's next reconciliation moves them back to prerouting in one
// transaction, a banned loopback source dropped all along; while fib keeps failing, the
// reconciliations probe once per period and log nothing more.
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Giftwrap.Kernel.Tests;

public sealed class ServeFibReturnTests : IDisposable
{
    private const string FellBack = "dropping in the input hook instead";
    private const string MovedBack = "the drops moved from the input hook back to prerouting";
    private readonly GiftwrapInNamespace _env = new("kernel-fib", "");
    private readonly FiblessNft _nft;

    public ServeFibReturnTests() => _nft = new FiblessNft(_env.Dir, _env.Ns);

    private string Conf => _env.Conf;

    /// <summary>The configuration (reconcile every second), a ban on 127.0.0.5, and serve started with the wrapper as its nft.</summary>
    private GiftwrapServe Serve(string reconcile = "1s")
    {
        _env.WriteServeConfig($"nftables = yes\nreconcile = {reconcile}");
        Assert.Equal(0, _env.Ns.Run("dotnet", GiftwrapInNamespace.Dll, "ban", "127.0.0.5", "--for", "1h", "--config", Conf).ExitCode);
        var serve = new GiftwrapServe(_env.Ns, Conf, _nft.Environment());
        serve.WaitFor("listening on");
        serve.WaitFor(FellBack);
        serve.WaitFor("kernel: table inet giftwrap written: 1 ban element(s)");
        return serve;
    }

    [NfTablesFact]
    public void FibLoadedLater_NextReconciliation_MovesTheDropsBackToPrerouting_InOneTransaction()
    {
        using var serve = Serve();
        var rules = _env.Ruleset();
        Assert.Contains("type filter hook input priority filter - 10; policy accept;", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("fib", rules, StringComparison.Ordinal);
        Assert.Contains("hook:      input, priority filter - 10 (the kernel refuses a prerouting chain with fib", _nft.Status(_env.Ns, Conf).Stdout, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.0.5"));
        Assert.True(_env.From("127.0.0.6"));

        using var monitor = new NftEvents(_env.Ns);
        _nft.LoadFib();
        serve.WaitFor(MovedBack);
        rules = _env.Ruleset();
        Assert.Contains("type filter hook prerouting priority raw - 10; policy accept;", rules, StringComparison.Ordinal);
        Assert.Matches(@"meta l4proto tcp ip saddr @a4 fib daddr type local drop", rules);
        Assert.DoesNotContain("hook input", rules, StringComparison.Ordinal);
        Assert.Contains("127.0.0.5", rules, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.0.5"));
        Assert.True(_env.From("127.0.0.6"));
        // One transaction: the input chain went in the same generation as the prerouting chain and the ban came.
        var move = monitor.Generations().Single(g => g.Contains("delete chain inet giftwrap input", StringComparison.Ordinal));
        Assert.Contains("add chain inet giftwrap prerouting", move, StringComparison.Ordinal);
        Assert.Contains("add element inet giftwrap a4 { 127.0.0.5", move, StringComparison.Ordinal);
        var status = _nft.Status(_env.Ns, Conf);
        Assert.Contains("hook:      prerouting, priority raw - 10 (before conntrack)", status.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("refuses", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("in step:   yes", status.Stdout, StringComparison.Ordinal);
        // Settled: further reconciliations find the table in step, and log neither change again.
        Thread.Sleep(2500);
        Assert.Equal(1, serve.Count(FellBack));
        Assert.Equal(1, serve.Count(MovedBack));
        Assert.Equal(0, serve.Count("kernel: drift"));
        Assert.Equal(0, serve.Stop());
    }

    [NfTablesFact]
    public void FibKeepsFailing_OneFallbackLine_OneProbePerPeriod_TableUnchanged()
    {
        var sw = Stopwatch.StartNew();
        using var serve = Serve();
        // The timer's reconciliations ask again (the first probe was the fallback's own)...
        var deadline = Stopwatch.StartNew();
        while (_nft.Probes < 5)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), $"{_nft.Probes} probe(s) in 30 s:\n{serve.Stderr()}");
            Thread.Sleep(50);
        }
        // ...and reconciliations set off by foreign changes (each a drift, rewritten) do not add probes of their own.
        for (var i = 1; i <= 5; i++)
        {
            _env.Ns.Must("nft", "add", "element", "inet", "giftwrap", "a4", "{ 127.0.0.9 }");
            serve.WaitFor("kernel: drift", i);
            // The drift is said before the table is written again: an element added before that write
            // would go with it unseen (CI's loaded run waited 30 s for a fifth line so).
            var written = Stopwatch.StartNew();
            while (_env.Ruleset().Contains("127.0.0.9", StringComparison.Ordinal))
            {
                Assert.True(written.Elapsed < TimeSpan.FromSeconds(30), $"127.0.0.9 still in the table after drift {i}:\n{serve.Stderr()}");
                Thread.Sleep(50);
            }
        }
        Assert.True(_nft.Probes <= sw.Elapsed.TotalSeconds + 2, $"{_nft.Probes} probes in {sw.Elapsed.TotalSeconds:F1} s with a 1 s period");
        Assert.Equal(1, serve.Count(FellBack));
        Assert.Equal(0, serve.Count(MovedBack));
        var rules = _env.Ruleset();
        Assert.Contains("type filter hook input priority filter - 10; policy accept;", rules, StringComparison.Ordinal);
        Assert.DoesNotContain("fib", rules, StringComparison.Ordinal);
        Assert.Contains("127.0.0.5", rules, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.0.5"));
        Assert.Equal(0, serve.Stop());
    }

    [NfTablesFact]
    public void FibLoadedLater_AReload_MovesTheDropsBackToPrerouting_WithoutWaitingForTheTimer()
    {
        // A period the test never sees end: only the reload can ask about fib.
        using var serve = Serve(reconcile: "1h");
        Assert.Contains("type filter hook input priority filter - 10; policy accept;", _env.Ruleset(), StringComparison.Ordinal);
        var probes = _nft.Probes;

        _nft.LoadFib();
        serve.Hup();
        serve.WaitFor("configuration reloaded");
        serve.WaitFor(MovedBack);
        Assert.Equal(probes + 1, _nft.Probes);
        var rules = _env.Ruleset();
        Assert.Contains("type filter hook prerouting priority raw - 10; policy accept;", rules, StringComparison.Ordinal);
        Assert.Matches(@"meta l4proto tcp ip saddr @a4 fib daddr type local drop", rules);
        Assert.DoesNotContain("hook input", rules, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.0.5"));
        Assert.True(_env.From("127.0.0.6"));
        Assert.Contains("hook:      prerouting, priority raw - 10 (before conntrack)", _nft.Status(_env.Ns, Conf).Stdout, StringComparison.Ordinal);

        // A second reload, in prerouting now, asks nothing and logs no move (status's own probe counted before).
        probes = _nft.Probes;
        serve.Hup();
        serve.WaitFor("configuration reloaded", 2);
        Thread.Sleep(500);
        Assert.Equal(probes, _nft.Probes);
        Assert.Equal(1, serve.Count(MovedBack));
        Assert.Equal(1, serve.Count(FellBack));
        Assert.Equal(0, serve.Stop());
    }

    public void Dispose() => _env.Dispose();
}

/// <summary>`nft monitor` inside a namespace, its lines kept; ready once it has seen a change of its own making.</summary>
internal sealed class NftEvents : IDisposable
{
    private readonly StringBuilder _lines = new();
    private readonly Process _monitor;

    public NftEvents(NetNamespace ns)
    {
        var psi = new ProcessStartInfo("nsenter", ["-t", ns.Pid.ToString(CultureInfo.InvariantCulture), "-n", "nft", "monitor"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _monitor = Process.Start(psi)!;
        _monitor.OutputDataReceived += (_, e) =>
        {
            lock (_lines)
                _lines.Append(e.Data).Append('\n');
        };
        _monitor.BeginOutputReadLine();
        // A table of its own (no part of Giftwrap's, so serve's monitor ignores it) until the monitor reports it.
        var sw = Stopwatch.StartNew();
        while (!Text().Contains("add table inet monitor_ready", StringComparison.Ordinal))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), "nft monitor reports nothing");
            ns.Must("nft", "add", "table", "inet", "monitor_ready");
            ns.Must("nft", "delete", "table", "inet", "monitor_ready");
            Thread.Sleep(50);
        }
    }

    private string Text()
    {
        lock (_lines)
            return _lines.ToString();
    }

    /// <summary>The events of each committed transaction (nft prints a generation line after them).</summary>
    public IReadOnlyList<string> Generations() =>
        Text().Split("# new generation", StringSplitOptions.RemoveEmptyEntries);

    public void Dispose()
    {
        // Ours, by its pid (nsenter execs nft).
        _monitor.Kill();
        _monitor.WaitForExit();
        _monitor.Dispose();
    }
}
