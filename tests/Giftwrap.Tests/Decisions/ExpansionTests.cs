// %-expansions, with hostile values from DNS and ident made shell-safe.
using Giftwrap.Decisions;
using Giftwrap.Expansion;
using Giftwrap.Options;

namespace Giftwrap.Tests.Decisions;

public sealed class ExpansionTests
{
    private static readonly AccessRequest Request = new()
    {
        Daemon = "sshd",
        ClientAddress = "10.1.2.3",
        ClientName = "x;rm -rf /`id`$(reboot)|.evil.example",
        ClientUser = "bob&>",
        ClientPort = 40001,
        ServerAddress = "192.0.2.1",
        ServerName = "gate.example.com",
        ServerPort = 22,
        ProcessId = 4242,
    };

    [Theory]
    [InlineData("%a", "10.1.2.3")]
    [InlineData("%A", "192.0.2.1")]
    [InlineData("%d", "sshd")]
    [InlineData("%h", "x_rm_-rf_/_id___reboot__.evil.example")]
    [InlineData("%n", "x_rm_-rf_/_id___reboot__.evil.example")]
    [InlineData("%H", "gate.example.com")]
    [InlineData("%u", "bob__")]
    [InlineData("%c", "bob__@x_rm_-rf_/_id___reboot__.evil.example")]
    [InlineData("%s", "sshd@gate.example.com")]
    [InlineData("%p", "4242")]
    [InlineData("%r", "40001")]
    [InlineData("%R", "22")]
    [InlineData("100%%", "100%")]
    [InlineData("a%", "a%")]
    [InlineData("literal ; stays", "literal ; stays")]
    public void Expand_Letter_GivesLibwrapsValue(string text, string expected) =>
        Assert.Equal(expected, PercentExpander.Expand(text, Request));

    [Fact]
    public void Decide_SpawnWithHostileName_NeverPassesShellCharacters()
    {
        using var files = new TableFiles("sshd: ALL: spawn echo %h %u >> /tmp/log\n");
        using var tables = files.Open();
        var d = tables.Decide(Request);
        var spawn = Assert.IsType<SpawnAction>(d.Actions[0]);
        Assert.Equal("echo x_rm_-rf_/_id___reboot__.evil.example bob__ >> /tmp/log", spawn.Command);
    }

    [Fact]
    public void Decide_UnknownLetter_WarnsAndExpandsToNothing()
    {
        using var files = new TableFiles("sshd: ALL: spawn echo [%z]\n");
        using var tables = files.Open();
        var d = tables.Decide(Request);
        Assert.Equal("echo []", Assert.IsType<SpawnAction>(d.Actions[0]).Command);
        Assert.Contains(d.Warnings, w => w.Message == "unrecognized %z");
    }
}
