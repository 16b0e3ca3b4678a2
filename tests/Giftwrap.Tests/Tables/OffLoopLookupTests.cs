// The no-wait decision (TryDecideWithoutWaiting, the gate's loop check) never calls innetgr() or getpwnam()/getgrnam(): those may
// wait on a remote NIS or LDAP server. A rule that needs one makes the decision go the long way,
// where Decide asks the source as libwrap does.
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.Tests.Tables;

public sealed class OffLoopLookupTests
{
    private sealed class CountingSources : INetgroups, IAccounts
    {
        public int Netgroups;
        public int Accounts;

        public bool IsHostInNetgroup(string netgroup, string host)
        {
            Interlocked.Increment(ref Netgroups);
            return false;
        }

        public bool UserExists(string name)
        {
            Interlocked.Increment(ref Accounts);
            return true;
        }

        public bool GroupExists(string name)
        {
            Interlocked.Increment(ref Accounts);
            return true;
        }
    }

    [Fact]
    public void TryDecideWithoutWaiting_RuleNeedsNetgroupOrAccount_LongWayWithoutAskingTheSource()
    {
        using var files = new TableFiles("sshd: 127.0.0.3\nsshd: @slow\nftpd: ALL : user nobody\nftpd2: ALL : group nogroup\n", "ALL: ALL\n");
        var sources = new CountingSources();
        using var tables = new AccessTables(files.Allow, files.Deny, new AccessTablesOptions { Netgroups = sources, Accounts = sources });

        // A rule before any netgroup decides on the loop.
        Assert.True(tables.TryDecideWithoutWaiting(TableFiles.Request("sshd", "127.0.0.3"), out var early));
        Assert.Equal(Verdict.Granted, early.Verdict);
        Assert.False(tables.TryDecideWithoutWaiting(TableFiles.Request("sshd", "127.0.0.2"), out _));
        Assert.False(tables.TryDecideWithoutWaiting(TableFiles.Request("ftpd", "127.0.0.2"), out _));
        Assert.False(tables.TryDecideWithoutWaiting(TableFiles.Request("ftpd2", "127.0.0.2"), out _));
        Assert.Equal(0, sources.Netgroups);
        Assert.Equal(0, sources.Accounts);

        // The long way asks.
        Assert.Equal(Verdict.Denied, tables.Decide(TableFiles.Request("sshd", "127.0.0.2")).Verdict);
        Assert.Equal(1, sources.Netgroups);
        var user = tables.Decide(TableFiles.Request("ftpd", "127.0.0.2"));
        Assert.Equal(Verdict.Granted, user.Verdict);
        Assert.Contains(user.Actions, a => a is Giftwrap.Options.UserAction);
        Assert.Equal(Verdict.Granted, tables.Decide(TableFiles.Request("ftpd2", "127.0.0.2")).Verdict);
        Assert.Equal(2, sources.Accounts);
    }
}
