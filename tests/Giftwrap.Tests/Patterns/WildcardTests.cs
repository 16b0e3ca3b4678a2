using Giftwrap.Patterns;

namespace Giftwrap.Tests.Patterns;

public sealed class WildcardTests
{
    [Theory]
    [InlineData("*.example.com", "a.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.EXAMPLE.com", "B.Example.COM", true)]
    [InlineData("?.example.com", "a.example.com", true)]
    [InlineData("?.example.com", "ab.example.com", false)]
    [InlineData("10.0.*", "10.0.3.4", true)]
    [InlineData("a*b*c", "abc", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXbY", false)]
    [InlineData("*", "", true)]
    [InlineData("**", "x", true)]
    [InlineData("*1", "10.0.0.1", true)]
    [InlineData("*1", "10.0.0.2", false)]
    [InlineData("a?c*", "abcdef", true)]
    [InlineData("*aa", "aaa", true)]
    [InlineData("*a*a", "aa", true)]
    [InlineData("*a*a", "a", false)]
    public void IsMatch_Table(string pattern, string text, bool expected) =>
        Assert.Equal(expected, new Wildcard(pattern, ignoreCase: true).IsMatch(text));

    [Fact]
    public void IsMatch_HostileName_AnswersWithoutBacktracking()
    {
        // libwrap's recursive matcher explores every split of the name among the stars.
        var name = new string('a', 255);
        var pattern = string.Concat(Enumerable.Repeat("*a", 30)) + "*b";
        Assert.False(new Wildcard(pattern, ignoreCase: true).IsMatch(name));
        Assert.True(new Wildcard(string.Concat(Enumerable.Repeat("*a", 30)) + "*", ignoreCase: true).IsMatch(name));
    }
}
