// One nft run, bounded: an nft that hangs (here a sleep standing in for it) is killed by its
// pid at the limit, whatever it was doing, and the run ends with a value saying so. No
// namespace: nothing reaches a kernel.
namespace Giftwrap.Kernel.Tests;

public sealed class NftRunTests
{
    [Fact]
    public async Task Run_NftThatNeverReadsItsScript_IsKilledAtTheLimit()
    {
        // A script larger than a pipe's buffer, to an nft that hangs before reading it: the write
        // itself must be bounded, not only the wait for the exit.
        var nft = new Nft(["sh", "-c", "exec sleep 60", "sh"], TimeSpan.FromSeconds(2));
        var script = string.Concat(Enumerable.Repeat("add element inet giftwrap a4 { 192.0.2.1 }\n", 100_000));
        var run = nft.ApplyAsync(script, CancellationToken.None);
        var done = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(30)));
        Assert.True(done == run, "the run of an nft that never reads its script did not end");
        var r = await run;
        Assert.Equal(124, r.ExitCode);
        Assert.Contains("killed", r.Error, StringComparison.Ordinal);
    }
}
