// TableFile.TryRead on files that hold more than stat(2) says (procfs says 0 bytes): the read goes
// past the stated size, through the small probe alone or the probe and then chunks, and the size
// bound still holds. The ordinary reads are covered by every table test.
using Giftwrap.Tables;

namespace Giftwrap.Tests.Tables;

public sealed class TableFileTests
{
    [Theory]
    [InlineData("/proc/version")] // under 256 bytes: the probe finds all of it
    [InlineData("/proc/self/mountinfo")] // usually more: the probe, then chunks
    public void TryRead_MoreThanStatSays_ReadsAllOfIt(string path)
    {
        var expected = File.ReadAllBytes(path);

        var outcome = TableFile.TryRead(path, out var data, out var error);

        Assert.Equal(ReadOutcome.Read, outcome);
        Assert.Null(error);
        Assert.Equal(expected, data);
    }

    [Fact]
    public void TryRead_MoreThanStatSaysAndPastTheBound_FailsClosed()
    {
        var outcome = TableFile.TryRead("/proc/self/mountinfo", out var data, out var error, maxBytes: 100);

        Assert.Equal(ReadOutcome.Failed, outcome);
        Assert.Empty(data);
        Assert.Contains("larger than 100 bytes", error, StringComparison.Ordinal);
    }
}
