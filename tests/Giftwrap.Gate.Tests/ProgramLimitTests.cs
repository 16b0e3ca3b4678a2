// The programs that rules start are bounded ([actions] max_children, max_starts_per_minute): a
// flood from many loopback addresses against `spawn (...) &` keeps the number of processes
// bounded, the gate serves every client, and the excess is counted and summarised in the log.
using System.Diagnostics.Metrics;
using Giftwrap.Diagnostics;
using Xunit.Abstractions;

namespace Giftwrap.Gate.Tests;

[Collection("alone")]
public sealed class ProgramLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SpawnFlood_FromManyAddresses_KeepsTheProcessCountBounded_AndTheGateServing()
    {
        // A token of this run names its processes: background jobs leave the gate's process tree.
        var token = $"41{Random.Shared.Next(100000, 999999)}";
        await using var gate = new GateFixture($"ALL: ALL : spawn (sleep 0.{token}) &\n");
        using var echo = new EchoServer();
        using var refused = new CounterMeter("giftwrap.programs.refused");
        var port = GateFixture.FreePort();
        var config = gate.Config(ConnectionAccountingTests.Forward("echo", port, echo.Port));
        var server = gate.Start(config with { Limits = config.Limits with { MaxChildren = 8, MaxStartsPerMinute = 10_000 } });

        // 1,000 clients from 1,000 addresses, 20 at a time for about two seconds; the processes are counted as they come.
        var peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, ProcessCounts.WithToken(token));
                await Task.Delay(20);
            }
        });
        var served = 0;
        var clients = 0;
        // At least 50 batches; more (bounded) until places have come back at least once, so that a
        // loaded machine whose background jobs end late does not make the test prove nothing.
        for (var batch = 0; batch < 50 || (clients - refused.Value <= 8 && batch < 250); batch++)
        {
            clients += 20;
            var replies = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            {
                var n = batch * 20 + i;
                return ConnectionAccountingTests.EchoAsync(port, $"c{n}", $"127.2.{n / 200}.{1 + n % 200}");
            }));
            served += replies.Count(r => r.StartsWith('c'));
            // Paced so that the flood outlasts several generations of background jobs.
            await Task.Delay(40);
        }
        await sampling.CancelAsync();
        await sampler;
        output.WriteLine($"flood: {clients} clients, {served} served, peak {peak} processes of the rule's spawn, {refused.Value} spawns refused, {clients - refused.Value} started");

        Assert.Equal(clients, served);
        // Each started program is its shell's background job: at most a subshell and a sleep per place.
        Assert.InRange(peak, 1, 8 * 3);
        Assert.True(refused.Value > 0, "no spawn was refused");
        // Places came back during the flood as background jobs ended: more than one round of 8 started.
        Assert.True(clients - refused.Value > 8, $"only {clients - refused.Value} spawns started");
        var line = await gate.WaitForLogAsync("program(s) of rules not started");
        Assert.Contains("max_children = 8", line, StringComparison.Ordinal);
        // The places come back when the background jobs end.
        await ConnectionAccountingTests.WaitUntilAsync(() => server.RulePrograms == 0, TimeSpan.FromSeconds(15));
        await ConnectionAccountingTests.WaitUntilAsync(() => ProcessCounts.WithToken(token) == 0, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task SpawnRate_PerRule_IsBoundedPerMinute()
    {
        await using var gate = new GateFixture();
        var marks = Path.Combine(gate.Directory, "marks");
        File.WriteAllText(gate.Allow, $"ALL: 127.3.0.0/255.255.0.0 : spawn (echo %a >> {marks})\nALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var config = gate.Config(ConnectionAccountingTests.Forward("echo", port, echo.Port));
        gate.Start(config with { Limits = config.Limits with { MaxStartsPerMinute = 5 } });

        for (var i = 0; i < 12; i++)
            Assert.Equal($"c{i}", await ConnectionAccountingTests.EchoAsync(port, $"c{i}", $"127.3.0.{1 + i}"));
        // Another rule has its own count.
        Assert.Equal("other", await ConnectionAccountingTests.EchoAsync(port, "other", "127.4.0.1"));

        Assert.Equal(5, File.ReadAllLines(marks).Length);
        var line = await gate.WaitForLogAsync("program(s) of rules not started");
        Assert.Contains("over max_starts_per_minute = 5", line, StringComparison.Ordinal);
        Assert.Contains($"{gate.Allow}:1", line, StringComparison.Ordinal);
    }
}

/// <summary>A counter of the Giftwrap meter summed over its tags, as an exporter would read it.</summary>
public sealed class CounterMeter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _value;

    public CounterMeter(string name)
    {
        _listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == GiftwrapMetrics.MeterName && instrument.Name == name)
                l.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((_, delta, _, _) => Interlocked.Add(ref _value, delta));
        _listener.Start();
    }

    public long Value => Interlocked.Read(ref _value);

    public void Dispose() => _listener.Dispose();
}
