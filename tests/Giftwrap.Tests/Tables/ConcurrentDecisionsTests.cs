// Many threads deciding at once while the tables and their /file lists change, as the
// gate's loops do: the first use of a pattern file from several threads, changes seen
// mid-flight. No exception, and once the files stop changing every decision is the one
// freshly read tables give.
using Giftwrap.Decisions;

namespace Giftwrap.Tests.Tables;

public sealed class ConcurrentDecisionsTests
{
    private const int Lists = 120, Threads = 12, Rounds = 25;

    [Fact]
    public async Task Decide_ManyThreadsWhileTablesAndListsChange_NoErrorAndFinalAnswersCurrent()
    {
        using var files = new TableFiles(deny: "ALL: ALL\n");
        var dirs = Enumerable.Range(0, 6).Select(d => Directory.CreateDirectory(Path.Combine(files.Directory, $"d{d}")).FullName).ToArray();
        var lists = Enumerable.Range(0, Lists).Select(i => Path.Combine(dirs[i % dirs.Length], $"list{i}")).ToArray();
        var clients = Enumerable.Range(0, Lists).Select(i => TableFiles.Request("sshd", $"10.0.{i / 250}.{1 + (i % 250)}")).ToArray();
        for (var i = 0; i < Lists; i++)
            File.WriteAllText(lists[i], $"192.0.2.1 {clients[i].ClientAddress}\n");
        File.WriteAllText(files.Allow, string.Concat(lists.Select(l => $"sshd: {l}\n")));
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        for (var round = 0; round < Rounds && errors.IsEmpty; round++)
        {
            using var tables = files.Open(live: true);
            using var stop = new CancellationTokenSource();
            var writer = Task.Run(() => Rewrite(files, lists, clients, round, stop.Token));
            using var start = new Barrier(Threads);
            var deciders = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(() =>
            {
                start.SignalAndWait();
                for (var pass = 0; pass < 3; pass++)
                {
                    for (var k = 0; k < Lists; k++)
                    {
                        try
                        {
                            tables.Decide(clients[(k + t * 17) % Lists]);
                        }
                        catch (Exception ex)
                        {
                            errors.Enqueue(ex);
                            return;
                        }
                    }
                }
            }, TaskCreationOptions.LongRunning)).ToArray();
            await Task.WhenAll(deciders).WaitAsync(TimeSpan.FromMinutes(2));
            await stop.CancelAsync();
            await writer;
            Assert.True(errors.IsEmpty, $"round {round}: {errors.FirstOrDefault()}");
            // The files are still now: the live tables answer as tables read afresh do.
            using var fresh = files.Open(live: false);
            for (var k = 0; k < Lists; k++)
            {
                var live = tables.Decide(clients[k]);
                var expected = fresh.Decide(clients[k]);
                Assert.True(live.IsGranted == expected.IsGranted && live.Match == expected.Match,
                    $"round {round}, client {clients[k].ClientAddress}: live {live.Verdict} {live.Match}, fresh {expected.Verdict} {expected.Match}");
            }
        }
        Assert.True(errors.IsEmpty, errors.FirstOrDefault()?.ToString());
    }

    [Fact]
    public async Task Decide_WhileAnotherThreadRecompilesABigTable_DecidesWithTheOldTablesWithoutWaiting()
    {
        using var files = new TableFiles();
        var big = new System.Text.StringBuilder();
        for (var i = 0; i < 400_000; i++)
            big.Append("sshd: 10.").Append((i >> 16) & 255).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255).Append(" 192.0.2.").Append(i % 250).Append('\n');
        File.WriteAllText(files.Deny, big.ToString());
        var client = TableFiles.Request("sshd", "198.51.100.1");
        using var tables = files.Open(live: true);
        Assert.True(tables.Decide(client).IsGranted);
        var before = tables.Compilations;
        // The changed table refuses the client; the thread that finds the change recompiles it.
        File.AppendAllText(files.Deny, "sshd: 198.51.100.1\n");
        var recompile = Task.Factory.StartNew(() => tables.Decide(client), TaskCreationOptions.LongRunning);
        while (tables.Compilations == before && !recompile.IsCompleted)
            Thread.Yield();
        // A decision while the recompile is under way does not wait for it: the old tables decide.
        var during = Task.Factory.StartNew(() => tables.Decide(client), TaskCreationOptions.LongRunning);
        await during.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.False(recompile.IsCompleted, "the recompile ended before the other decision did: the test proves nothing (a faster machine needs a bigger table)");
        Assert.True((await during).IsGranted);
        // Once ready, the new tables decide.
        Assert.False((await recompile).IsGranted);
        Assert.False(tables.Decide(client).IsGranted);
    }

    [Fact]
    public void FastCheckFindsAChange_ThenTheLongWay_DecidesWithTheNewTables()
    {
        // The gate's order for one connection: TryDecideWithoutWaiting() on the loop, then Decide() on
        // the thread pool. The change was written before the connection came, so its decision must see
        // it, however long the recompile takes (a big table makes a lost race likely).
        using var files = new TableFiles();
        var big = new System.Text.StringBuilder();
        for (var i = 0; i < 200_000; i++)
            big.Append("sshd: 10.").Append((i >> 16) & 255).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255).Append('\n');
        File.WriteAllText(files.Deny, big.ToString());
        var client = TableFiles.Request("sshd", "198.51.100.1");
        using var tables = files.Open(live: true);
        for (var round = 0; round < 3; round++)
        {
            Assert.True(tables.Decide(client).IsGranted);
            File.AppendAllText(files.Deny, "sshd: 198.51.100.1\n");
            Assert.False(tables.TryDecideWithoutWaiting(client, out _));
            // The long way starts a little later on the thread pool, as it does in the gate.
            Thread.Sleep(50);
            Assert.False(tables.Decide(client).IsGranted);
            File.WriteAllText(files.Deny, big.ToString());
        }
    }

    // Lists lose and regain their client; the allow table is rewritten by rename now and then.
    private static void Rewrite(TableFiles files, string[] lists, AccessRequest[] clients, int round, CancellationToken stop)
    {
        var rng = new Random(round);
        var allow = File.ReadAllText(files.Allow);
        for (var n = 0; n < 400 && !stop.IsCancellationRequested; n++)
        {
            var i = rng.Next(lists.Length);
            File.WriteAllText(lists[i], rng.Next(2) == 0 ? "192.0.2.1\n" : $"192.0.2.1 {clients[i].ClientAddress}\n");
            if (n % 50 == 0)
            {
                var next = files.Write("hosts.allow.new", (n % 100 == 0 ? "ftpd: ALL\n" : "") + allow);
                File.Move(next, files.Allow, overwrite: true);
            }
            Thread.Yield();
        }
    }
}
