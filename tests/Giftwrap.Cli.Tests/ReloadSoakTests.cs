// A thousand reloads of a real `giftwrap serve`, as an administrator's script might send them:
// SIGHUPs that alternate a [limits] value and the path of hosts.deny (in two directories), with
// a 100,000-line hosts.allow. Afterwards the gate holds the inotify instances and watches it held
// before (the released tables' directory is no longer watched), its RSS is back within a stated
// bound, and clients are still decided by the tables now configured.
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ReloadSoakTests(ITestOutputHelper output)
{
    private const int Reloads = 1000, AllowLines = 100_000;

    // What RSS may keep above its figure before the reloads: garbage not yet collected and the
    // runtime's pools, not one compiled copy of the 100,000-line table per reload (about 29 MB each).
    private const long RssBoundBytes = 48L * 1024 * 1024;

    [Fact]
    public async Task Serve_ThousandReloads_InotifyAndRssBackWhereTheyStarted_ClientsStillDecided()
    {
        using var dir = new TempDir();
        var big = Directory.CreateDirectory(Path.Combine(dir.Path, "big")).FullName;
        var a = Directory.CreateDirectory(Path.Combine(dir.Path, "a")).FullName;
        var b = Directory.CreateDirectory(Path.Combine(dir.Path, "b")).FullName;
        var allow = new StringBuilder();
        for (var i = 0; i < AllowLines; i++)
            allow.Append("cat: 10.").Append((i >> 16) & 255).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255).Append('\n');
        File.WriteAllText(Path.Combine(big, "hosts.allow"), allow.ToString());
        // Each deny table refuses one loopback address: which one is refused shows which table decides.
        File.WriteAllText(Path.Combine(a, "hosts.deny"), "ALL: 127.0.0.2\n");
        File.WriteAllText(Path.Combine(b, "hosts.deny"), "ALL: 127.0.0.3\n");
        var port = Loopback.FreePort();
        var conf = Path.Combine(dir.Path, "giftwrap.conf");
        Write(conf, port, big, a, maxPerSource: 50);
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));

        var denyDir = a;
        var limit = 50;
        var done = 0;
        async Task ReloadAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                // Alternately a [limits] value and the deny table's path, each a complete file put in place by rename.
                if (done % 2 == 0)
                    limit = limit == 50 ? 51 : 50;
                else
                    denyDir = denyDir == a ? b : a;
                Write(conf, port, big, denyDir, limit);
                Assert.Equal(0, Loopback.Signal(gate.Id, 1));
                done++;
                await gate.WaitForAsync("configuration reloaded", TimeSpan.FromSeconds(60), count: done);
            }
        }

        // Warmed up (both kinds of reload, both tables, a few clients) before the first figures.
        await ReloadAsync(20);
        await AssertDecidedAsync(port, denyDir == a);
        var before = Figures(gate.Id);
        await ReloadAsync(Reloads);
        await AssertDecidedAsync(port, denyDir == a);
        var after = Figures(gate.Id);
        output.WriteLine($"before: {before}; after {Reloads} reloads: {after}");

        Assert.Equal(before.Instances, after.Instances);
        Assert.Equal(1, after.Instances);
        // One watch for hosts.allow's directory, one for the deny table's now: the other directory went with its tables.
        Assert.Equal(2, after.Watches);
        Assert.True(after.Rss - before.Rss < RssBoundBytes, $"RSS grew by {(after.Rss - before.Rss) / 1024 / 1024} MB over {Reloads} reloads (bound {RssBoundBytes / 1024 / 1024} MB)");
        Assert.DoesNotContain("error", gate.Stderr, StringComparison.OrdinalIgnoreCase);
    }

    private static void Write(string conf, int port, string allowDir, string denyDir, int maxPerSource)
    {
        var text = $"[log]\nsyslog = off\n[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n" +
            $"[tables]\nallow = {allowDir}/hosts.allow\ndeny = {denyDir}/hosts.deny\n[limits]\nmax_per_source = {maxPerSource}\n";
        var next = conf + ".new";
        File.WriteAllText(next, text);
        File.Move(next, conf, overwrite: true);
    }

    // 127.0.0.1 is always served; 127.0.0.2 is refused by a's table, 127.0.0.3 by b's.
    private static async Task AssertDecidedAsync(int port, bool denyIsA)
    {
        Assert.True(await EchoedAsync(port, "127.0.0.1"));
        Assert.Equal(!denyIsA, await EchoedAsync(port, "127.0.0.2"));
        Assert.Equal(denyIsA, await EchoedAsync(port, "127.0.0.3"));
    }

    private static async Task<bool> EchoedAsync(int port, string from)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(IPAddress.Loopback, port);
        await s.SendAsync("hello\n"u8.ToArray(), SocketFlags.None);
        s.Shutdown(SocketShutdown.Send);
        var buffer = new byte[16];
        try
        {
            var n = await s.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            return n > 0;
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            // Closed with our data unread: a refusal.
            return false;
        }
    }

    private readonly record struct ProcessFigures(int Instances, int Watches, long Rss)
    {
        public override string ToString() => $"{Instances} inotify instance(s), {Watches} watch(es), RSS {Rss / 1024.0 / 1024:0.0} MB";
    }

    // /proc/PID/fd links to anon_inode:inotify are the instances; each "inotify wd:" line of their fdinfo a watch.
    private static ProcessFigures Figures(int pid)
    {
        var instances = 0;
        var watches = 0;
        foreach (var fd in new DirectoryInfo($"/proc/{pid}/fd").GetFiles())
        {
            string? target;
            try
            {
                target = fd.LinkTarget;
            }
            catch (IOException)
            {
                // Closed while listed.
                continue;
            }
            if (target != "anon_inode:inotify")
                continue;
            instances++;
            watches += File.ReadLines($"/proc/{pid}/fdinfo/{fd.Name}").Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
        }
        var rss = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        var kb = long.Parse(rss["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        return new ProcessFigures(instances, watches, kb * 1024);
    }
}
