// Tables are live: every decision sees a change written before it, whether the
// file is appended in place, replaced by rename, or a /path pattern file changes.
using Giftwrap.Tables;

namespace Giftwrap.Tests.Tables;

public sealed class LiveTablesTests
{
    private static readonly Giftwrap.Decisions.AccessRequest Client = TableFiles.Request("sshd", "10.9.8.7");

    [Fact]
    public void Decide_AfterAppendInPlace_SeesTheNewRule()
    {
        using var files = new TableFiles(deny: "ALL: 192.0.2.1\n");
        using var tables = files.Open(live: true);
        Assert.True(tables.Decide(Client).IsGranted);
        File.AppendAllText(files.Deny, "ALL: 10.9.8.7\n");
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Equal(2, d.Match!.Line);
    }

    [Fact]
    public void Decide_AfterReplaceByRename_SeesTheNewFile()
    {
        using var files = new TableFiles(deny: "ALL: ALL\n");
        using var tables = files.Open(live: true);
        Assert.False(tables.Decide(Client).IsGranted);
        var next = files.Write("hosts.deny.new", "ALL: 192.0.2.1\n");
        File.Move(next, files.Deny, overwrite: true);
        Assert.True(tables.Decide(Client).IsGranted);
    }

    [Fact]
    public void Decide_AfterDeleteAndRecreate_FollowsTheFile()
    {
        using var files = new TableFiles(deny: "ALL: ALL\n");
        using var tables = files.Open(live: true);
        File.Delete(files.Deny);
        Assert.True(tables.Decide(Client).IsGranted);
        File.WriteAllText(files.Deny, "sshd: 10.9.8.7\n");
        Assert.False(tables.Decide(Client).IsGranted);
    }

    [Fact]
    public void Decide_AfterPatternFileChange_SeesTheNewList()
    {
        using var files = new TableFiles();
        var list = files.Write("blocked", "192.0.2.1\n");
        File.WriteAllText(files.Deny, $"ALL: {list}\n");
        using var tables = files.Open(live: true);
        Assert.True(tables.Decide(Client).IsGranted);
        File.AppendAllText(list, "10.9.8.7\n");
        Assert.False(tables.Decide(Client).IsGranted);
    }

    [Fact]
    public void Decide_SameBytesRewritten_KeepsTheCompiledTable()
    {
        using var files = new TableFiles(deny: "ALL: 192.0.2.1\n");
        using var tables = files.Open(live: true);
        var before = tables.Compilations;
        File.WriteAllText(files.Deny, "ALL: 192.0.2.1\n");
        Assert.True(tables.Decide(Client).IsGranted);
        Assert.Equal(before, tables.Compilations);
        File.WriteAllText(files.Deny, "ALL: 192.0.2.2\n");
        Assert.True(tables.Decide(Client).IsGranted);
        Assert.Equal(before + 1, tables.Compilations);
    }

    [Fact]
    public void Decide_StaticTables_IgnoreLaterChanges()
    {
        using var files = new TableFiles(deny: "ALL: 192.0.2.1\n");
        using var tables = files.Open(live: false);
        File.WriteAllText(files.Deny, "ALL: ALL\n");
        Assert.True(tables.Decide(Client).IsGranted);
    }

    [Fact]
    public void Decide_ManyRulesIndexed_KeepsFirstMatchOrder()
    {
        // An indexed exact address below a general rule must not win over it.
        using var files = new TableFiles(deny:
            string.Concat(Enumerable.Range(0, 5000).Select(i => $"ALL: 10.{i / 256}.{i % 256}.1\n"))
            + "sshd: ALL EXCEPT 10.9.8.7\nALL: 10.9.8.7\nALL: 10.9.0.0/16\n");
        using var tables = files.Open();
        Assert.Equal(5002, tables.Decide(Client).Match!.Line);
        Assert.Equal(1, tables.Decide(TableFiles.Request("sshd", "10.0.0.1")).Match!.Line);
        Assert.Equal(5003, tables.Decide(TableFiles.Request("ftpd", "10.9.1.2")).Match!.Line);
        Assert.Equal(5001, tables.Decide(TableFiles.Request("sshd", "10.9.1.2")).Match!.Line);
    }

    [Fact]
    public void ManyLiveTables_ShareOneInotifyInstance_AndEachStaysLive()
    {
        using var files = new TableFiles(deny: "ALL: 192.0.2.1\n");
        var before = InotifyInstances();
        var all = new List<AccessTables>();
        try
        {
            // A gate's reloads: each builds live tables; the old ones are kept a while.
            for (var i = 0; i < 300; i++)
            {
                all.Add(files.Open(live: true));
                Assert.True(all[^1].Decide(Client).IsGranted);
            }
            Assert.True(InotifyInstances() <= Math.Max(before, 1), $"{InotifyInstances() - before} inotify instances more than before");
            File.AppendAllText(files.Deny, "ALL: 10.9.8.7\n");
            Assert.All(all, t => Assert.False(t.Decide(Client).IsGranted));
        }
        finally
        {
            foreach (var t in all)
                t.Dispose();
        }
        // Disposed tables are forgotten; new ones still see changes.
        using var again = files.Open(live: true);
        Assert.False(again.Decide(Client).IsGranted);
        File.WriteAllText(files.Deny, "");
        Assert.True(again.Decide(Client).IsGranted);
    }

    [Fact]
    public void ReloadsOfUnchangedTables_ShareOneCompiledCopy()
    {
        var big = new System.Text.StringBuilder();
        for (var i = 0; i < 50_000; i++)
            big.Append("sshd: 10.").Append((i >> 16) & 255).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255).Append('\n');
        using var files = new TableFiles(deny: big.ToString());
        using var first = files.Open(live: true);
        Assert.Equal(2, first.Compilations);
        var all = new List<AccessTables>();
        try
        {
            for (var i = 0; i < 100; i++)
            {
                all.Add(files.Open(live: true));
                Assert.Equal(0, all[^1].Compilations);
                Assert.Same(first.Compiled().Deny, all[^1].Compiled().Deny);
            }
            // A changed file is compiled again, once for the first that reads it.
            File.AppendAllText(files.Deny, "sshd: 10.9.8.7\n");
            Assert.False(all[0].Decide(Client).IsGranted);
            Assert.Equal(1, all[0].Compilations);
            Assert.False(all[1].Decide(Client).IsGranted);
            Assert.Equal(0, all[1].Compilations);
        }
        finally
        {
            foreach (var t in all)
                t.Dispose();
        }
    }

    private static int InotifyInstances() =>
        new DirectoryInfo("/proc/self/fd").GetFiles().Count(f =>
        {
            try
            {
                return f.LinkTarget == "anon_inode:inotify";
            }
            catch (IOException)
            {
                return false; // closed meanwhile
            }
        });
}
