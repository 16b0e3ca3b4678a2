// Names and users are looked up only when a pattern or option needs them, and at
// most once per request. The lookups here answer from a table the test controls.
using Giftwrap.Decisions;

namespace Giftwrap.Tests.Decisions;

public sealed class LookupTests
{
    private sealed class CountingLookups(string name, string user) : IRequestLookups
    {
        public int Names;
        public int Users;

        public ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken)
        {
            Names++;
            return ValueTask.FromResult(name);
        }

        public ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Users++;
            return ValueTask.FromResult(user);
        }
    }

    private static AccessRequest Live(string daemon, string address) =>
        new() { Daemon = daemon, ClientAddress = address, ServerAddress = "127.0.0.1", ServerPort = 22 };

    [Fact]
    public async Task DecideAsync_AddressRules_LookUpNothing()
    {
        using var files = new TableFiles("sshd: 10.0.0.0/8\n", "ALL: 192.0.2.1 203.0.113.\n");
        using var tables = files.Open();
        var lookups = new CountingLookups("host.example.com", "bob");
        var j = await tables.DecideAsync(Live("sshd", "198.51.100.7"), lookups);
        Assert.True(j.Decision.IsGranted);
        Assert.Equal(0, lookups.Names);
        Assert.Equal(0, lookups.Users);
    }

    [Theory]
    [InlineData("[::1]", 1)]          // string_match: the address, then the name (NOT_INADDR)
    [InlineData("[2001:db8::5]", 1)]
    [InlineData("[bogus]", 1)]
    [InlineData("[::1]/128", 0)]      // masked_match: the address only
    [InlineData("[2001:db8::]/32", 0)]
    public async Task DecideAsync_BracketWithoutLength_LooksUpTheNameAsLibwrap(string pattern, int names)
    {
        // hosts_access.c host_match(): a token without '/' goes to string_match() for the address and,
        // having more than digits and dots, for the name too: libwrap looks it up, and %h then shows it.
        using var files = new TableFiles($"sshd: {pattern}: spawn echo %h\nsshd: ALL: spawn echo %h\n", "");
        using var tables = files.Open();
        var lookups = new CountingLookups("host.example.net", "bob");
        var j = await tables.DecideAsync(Live("sshd", "198.51.100.7"), lookups);
        Assert.True(j.Decision.IsGranted);
        Assert.Equal(names, lookups.Names);
        var spawn = Assert.IsType<Giftwrap.Options.SpawnAction>(Assert.Single(j.Decision.Actions));
        Assert.Equal(names == 1 ? "echo host.example.net" : "echo 198.51.100.7", spawn.Command);
    }

    [Fact]
    public async Task DecideAsync_BracketWithoutLength_MatchingAddress_LooksUpNothing()
    {
        using var files = new TableFiles("sshd: [::1]: spawn echo %h\n", "");
        using var tables = files.Open();
        var lookups = new CountingLookups("host.example.net", "bob");
        var j = await tables.DecideAsync(Live("sshd", "::1"), lookups);
        Assert.Equal(0, lookups.Names);
        Assert.Equal("echo ::1", Assert.IsType<Giftwrap.Options.SpawnAction>(Assert.Single(j.Decision.Actions)).Command);
    }

    [Fact]
    public async Task DecideAsync_NameRule_LooksUpTheNameOnce()
    {
        using var files = new TableFiles("sshd: .example.com\nsshd: foo.example.org\nsshd: LOCAL\n", "ALL: KNOWN\n");
        using var tables = files.Open();
        var lookups = new CountingLookups("host.example.net", "bob");
        var j = await tables.DecideAsync(Live("sshd", "198.51.100.7"), lookups);
        Assert.False(j.Decision.IsGranted);
        Assert.Equal(1, lookups.Names);
        Assert.Equal("host.example.net", j.Request.ClientName);
        Assert.Equal(0, lookups.Users);
    }

    [Fact]
    public async Task DecideAsync_UserPattern_LooksUpTheUserOnlyWhenTheHostMatches()
    {
        using var files = new TableFiles("sshd: root@10.0.0.0/8\n", "ALL: ALL\n");
        using var tables = files.Open();
        var lookups = new CountingLookups("x", "root");
        Assert.False((await tables.DecideAsync(Live("sshd", "198.51.100.7"), lookups)).Decision.IsGranted);
        Assert.Equal(0, lookups.Users);
        Assert.True((await tables.DecideAsync(Live("sshd", "10.1.2.3"), lookups)).Decision.IsGranted);
        Assert.Equal(1, lookups.Users);
    }

    [Fact]
    public async Task DecideAsync_Rfc931Option_LooksUpTheUserWithItsTimeout()
    {
        using var files = new TableFiles("sshd: ALL: rfc931 3: spawn echo %u\n");
        using var tables = files.Open();
        var lookups = new CountingLookups("x", "alice");
        var j = await tables.DecideAsync(Live("sshd", "10.1.2.3"), lookups);
        Assert.Equal(1, lookups.Users);
        Assert.Contains(j.Decision.Actions, a => a is Giftwrap.Options.SpawnAction { Command: "echo alice" });
    }

    [Fact]
    public async Task DecideAsync_HostInfoBeforeTheNameLookup_IsTheAddress_AsInLibwrapsOnePass()
    {
        using var files = new TableFiles("sshd: ALL: spawn echo %h %n %h %c\n");
        using var tables = files.Open();
        var lookups = new CountingLookups("host.example.net", "bob");
        var j = await tables.DecideAsync(Live("sshd", "10.1.2.3"), lookups);
        Assert.Equal(1, lookups.Names);
        Assert.Equal("echo 10.1.2.3 host.example.net host.example.net host.example.net",
            Assert.IsType<Giftwrap.Options.SpawnAction>(j.Decision.Actions[0]).Command);
    }

    [Fact]
    public async Task DecideAsync_ClientBeforeTheUserLookup_HasNoUser()
    {
        using var files = new TableFiles("sshd: ALL: spawn echo %c %u %c\n");
        using var tables = files.Open();
        var lookups = new CountingLookups("x", "bob");
        var j = await tables.DecideAsync(Live("sshd", "10.1.2.3"), lookups);
        Assert.Equal("echo 10.1.2.3 bob bob@10.1.2.3", Assert.IsType<Giftwrap.Options.SpawnAction>(j.Decision.Actions[0]).Command);
    }

    [Fact]
    public void Decide_WithoutLookups_TreatsMissingNamesAsUnknown()
    {
        using var files = new TableFiles("sshd: UNKNOWN\n");
        using var tables = files.Open();
        var d = tables.Decide(new AccessRequest { Daemon = "sshd", ClientAddress = "10.1.2.3" });
        Assert.True(d.IsGranted);
        Assert.NotNull(d.Match);
    }

    [Fact]
    public void Decide_CanLookUp_AsksForTheName()
    {
        using var files = new TableFiles("sshd: .example.com\n");
        using var tables = files.Open();
        var d = tables.Decide(Live("sshd", "10.1.2.3") with { CanLookUp = true });
        Assert.Equal(Verdict.NeedsLookup, d.Verdict);
        Assert.Equal(LookupKind.ClientName, d.PendingLookup);
    }
}
