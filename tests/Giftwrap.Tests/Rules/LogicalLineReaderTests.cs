using System.Text;
using Giftwrap.Rules;

namespace Giftwrap.Tests.Rules;

public sealed class LogicalLineReaderTests
{
    private static List<LogicalLine> Read(string text) => LogicalLineReader.Read(Encoding.Latin1.GetBytes(text));

    [Fact]
    public void Read_Continuation_JoinsLinesAndCountsTheLast()
    {
        var lines = Read("sshd: \\\nALL\nftpd: ALL\n");
        Assert.Equal(2, lines.Count);
        Assert.Equal("sshd: ALL\n", lines[0].Text);
        Assert.Equal(2, lines[0].Line);
        Assert.Equal(1, lines[0].FirstLine);
        Assert.Equal(3, lines[1].Line);
    }

    [Fact]
    public void Read_MissingFinalNewline_LastLineHasNoNewline()
    {
        var lines = Read("a: b\nc: d");
        Assert.True(lines[0].EndsWithNewline);
        Assert.False(lines[1].EndsWithNewline);
    }

    [Fact]
    public void Read_LineLongerThanBuffer_ComesOutInPieces()
    {
        var lines = Read(new string('x', 3000) + "\nnext: ALL\n");
        Assert.Equal(2047, lines[0].Text.Length);
        Assert.False(lines[0].EndsWithNewline);
        Assert.Equal(new string('x', 953) + "\n", lines[1].Text);
        Assert.Equal(1, lines[1].Line);
    }

    [Fact]
    public void Read_Nul_HidesTheRestOfTheLineAndGluesTheNext()
    {
        var lines = Read("sshd\0junk\n: ALL\n");
        Assert.Single(lines);
        Assert.Equal("sshd: ALL\n", lines[0].Text);
        Assert.Equal(1, lines[0].Line);
    }

    [Fact]
    public void Read_BackslashAtEndOfFile_EndsTheTable()
    {
        var lines = Read("a: b\n\\\n");
        Assert.Single(lines);
    }
}
