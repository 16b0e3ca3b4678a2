// `giftwrap kernel sync|status|flush` and serve's kernel side as the real program, run inside
// the test's network namespace: sync writes the store's bans (never the SSH client's
// address), status sees drift, flush removes only Giftwrap's table, and serve writes the
// table at start and stops its nft monitor child with itself.
using System.Diagnostics;
using System.Net;

namespace Giftwrap.Kernel.Tests;

public sealed class KernelCommandTests : IDisposable
{
    private readonly GiftwrapInNamespace _env = new("kernel-cli", "");

    private string Config(string extra = "")
    {
        var path = Path.Combine(_env.Dir, "giftwrap.conf");
        File.WriteAllText(path, $"""
            [tables]
            allow = {_env.Dir}/hosts.allow
            deny = {_env.Dir}/hosts.deny

            [bans]
            store = {_env.Dir}/store
            protect_loopback = no

            [kernel]
            nftables = yes
            {extra}
            """);
        return path;
    }

    private ProcessRun Giftwrap(IDictionary<string, string?>? environment, params string[] args) => _env.Ns.Run(environment, ["dotnet", GiftwrapInNamespace.Dll, .. args]);

    [NfTablesFact]
    public void Sync_WritesTheStoresBans_StatusSeesDrift_FlushRemovesOnlyOurTable()
    {
        var conf = Config();
        _env.Ns.Must("nft", "add", "table", "inet", "other");
        foreach (var target in new[] { "127.0.0.5", "127.0.0.7", "127.0.5.0/24" })
            Assert.Equal(0, Giftwrap(null, "ban", target, "--for", "1h", "--config", conf).ExitCode);
        // sync run over SSH from 127.0.0.7: that address never reaches the kernel.
        var sync = Giftwrap(new Dictionary<string, string?> { ["SSH_CONNECTION"] = "127.0.0.7 50000 127.0.0.1 22" }, "kernel", "sync", "--config", conf);
        Assert.True(sync.ExitCode == 0, sync.Stderr);
        Assert.Contains("table inet giftwrap: 2 ban element(s)", sync.Stdout, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.0.5"));
        Assert.False(_env.From("127.0.5.9"));
        Assert.True(_env.From("127.0.0.7"));
        Assert.True(_env.From("127.0.0.6"));
        Assert.DoesNotContain("127.0.0.7", _env.Ruleset(), StringComparison.Ordinal);

        // Without the SSH session, 127.0.0.7 is missing from the kernel: drift.
        var status = Giftwrap(null, "kernel", "status", "--config", conf);
        Assert.Equal(1, status.ExitCode);
        Assert.Contains("1 element(s) missing", status.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, Giftwrap(null, "kernel", "sync", "--config", conf).ExitCode);
        status = Giftwrap(null, "kernel", "status", "--config", conf);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains("in step:   yes", status.Stdout, StringComparison.Ordinal);

        var flush = Giftwrap(null, "kernel", "flush", "--config", conf);
        Assert.True(flush.ExitCode == 0, flush.Stderr);
        var rules = _env.Ruleset();
        Assert.DoesNotContain("giftwrap", rules, StringComparison.Ordinal);
        Assert.Contains("table inet other", rules, StringComparison.Ordinal);
        Assert.True(_env.From("127.0.0.5"));
    }

    [NfTablesFact]
    public void Sync_KernelPorts_DropOnlyThosePorts()
    {
        using var other = _env.Ns.Listen();
        var conf = Config($"ports = {_env.Listener.Port}");
        Assert.Equal(0, Giftwrap(null, "ban", "127.0.0.5", "--for", "1h", "--config", conf).ExitCode);
        Assert.Equal(0, Giftwrap(null, "kernel", "sync", "--config", conf).ExitCode);
        Assert.False(_env.From("127.0.0.5"));
        Assert.True(_env.Ns.Connects(IPAddress.Parse("127.0.0.5"), IPAddress.Loopback, other.Port, TimeSpan.FromSeconds(10)));
    }

    [NfTablesFact]
    public void Status_AddressRules_ShowWhatTheKernelDropsAndWhichRuleKeptTheRestOut()
    {
        File.WriteAllText(Path.Combine(_env.Dir, "hosts.allow"), "sshd: 127.0.7.0/255.255.255.0\n");
        File.WriteAllText(Path.Combine(_env.Dir, "hosts.deny"), "sshd: 127.0.6.0/255.255.255.0\n");
        var conf = Config($"ports = sshd:{_env.Listener.Port}");
        var sync = Giftwrap(null, "kernel", "sync", "--config", conf);
        Assert.True(sync.ExitCode == 0, sync.Stderr);
        Assert.Contains("1 daemon port(s) with address rules", sync.Stdout, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.6.5"));
        Assert.True(_env.From("127.0.7.5"));
        var status = Giftwrap(null, "kernel", "status", "--config", conf);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains($"sshd:{_env.Listener.Port}: 1 range(s) refused by the tables whatever the lookups; 1 element(s) in the kernel's drop sets", status.Stdout, StringComparison.Ordinal);
        Assert.Contains("  dropped  127.0.6.0/24", status.Stdout, StringComparison.Ordinal);
        // The range hosts.allow grants is kept out of the kernel, and status names the rule.
        Assert.True(status.Stdout.Contains($"  held     127.0.7.0/24: granted ({_env.Dir}/hosts.allow:1)", StringComparison.Ordinal), status.Stdout);
    }

    [NfTablesFact]
    public void Sync_DaemonNameLongerThanAnNftComment_StillWritesTheTable_StatusFindsItsSet()
    {
        // nft takes a comment of at most 128 characters: the set's comment (the daemon name) past
        // that failed the whole transaction, and with it every ban of the table.
        var daemon = new string('d', 200);
        File.WriteAllText(Path.Combine(_env.Dir, "hosts.deny"), "ALL: 127.0.6.0/255.255.255.0\n");
        var conf = Config($"ports = {daemon}:{_env.Listener.Port}");
        Assert.Equal(0, Giftwrap(null, "ban", "127.0.0.5", "--for", "1h", "--config", conf).ExitCode);
        var sync = Giftwrap(null, "kernel", "sync", "--config", conf);
        Assert.True(sync.ExitCode == 0, sync.Stderr);
        Assert.False(_env.From("127.0.0.5"));
        Assert.False(_env.From("127.0.6.5"));
        var status = Giftwrap(null, "kernel", "status", "--config", conf);
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        Assert.Contains($"{daemon}:{_env.Listener.Port}: 1 range(s) refused by the tables whatever the lookups; 1 element(s) in the kernel's drop sets\n", status.Stdout, StringComparison.Ordinal);
    }

    [NfTablesFact]
    public void StatusAndSync_ListingNftCannotBeRead_SayWhyInOneLine()
    {
        // An nft whose JSON listing is not what Giftwrap reads (here: not JSON at all).
        var bin = Path.Combine(_env.Dir, "bin");
        Directory.CreateDirectory(bin);
        var nft = Path.Combine(bin, "nft");
        File.WriteAllText(nft, "#!/bin/sh\ncase \"$*\" in\n*-j*) echo 'Segmentation fault'; exit 0 ;;\nesac\nexec /usr/sbin/nft \"$@\"\n");
        File.SetUnixFileMode(nft, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var path = new Dictionary<string, string?> { ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}" };
        var conf = Config();
        Assert.Equal(0, Giftwrap(null, "ban", "127.0.0.5", "--for", "1h", "--config", conf).ExitCode);
        var status = Giftwrap(path, "kernel", "status", "--config", conf);
        Assert.Equal(1, status.ExitCode);
        Assert.Contains("giftwrap: cannot read table inet giftwrap: nft -j list", status.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", status.Stderr, StringComparison.Ordinal);
        // sync cannot compare, so it writes the whole table, and still says it could not read it.
        var sync = Giftwrap(path, "kernel", "sync", "--config", conf);
        Assert.Equal(1, sync.ExitCode);
        Assert.Contains("cannot read table inet giftwrap: nft -j list", sync.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("internal error", sync.Stderr, StringComparison.Ordinal);
        Assert.False(_env.From("127.0.0.5"));
    }

    [NfTablesFact]
    public void Serve_WritesTheTableAtStart_AndStopsItsMonitorWithItself()
    {
        var port = _env.Listener.Port;
        var conf = File.ReadAllText(Config()) + $"""

            [service:echo]
            listen = 127.0.0.1:2222
            forward = 127.0.0.1:{port}

            [log]
            syslog = off
            """;
        File.WriteAllText(Path.Combine(_env.Dir, "giftwrap.conf"), conf);
        Assert.Equal(0, Giftwrap(null, "ban", "127.0.0.5", "--for", "1h", "--config", Path.Combine(_env.Dir, "giftwrap.conf")).ExitCode);
        using var serve = new GiftwrapServe(_env.Ns, Path.Combine(_env.Dir, "giftwrap.conf"));
        var sw = Stopwatch.StartNew();
        while (!_env.Ruleset().Contains("127.0.0.5", StringComparison.Ordinal))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20) && !serve.Process.HasExited, "serve did not write the table");
            Thread.Sleep(50);
        }
        Assert.False(_env.From("127.0.0.5"));
        while (Children(serve.Process.Id).Count == 0)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), "no nft monitor child");
            Thread.Sleep(50);
        }
        // SIGTERM by pid, as systemd stops it: a clean exit, and the monitor gone with it.
        Assert.Equal(0, serve.Stop());
        Assert.Empty(Children(serve.Process.Id));
    }

    /// <summary>Live processes whose parent is <paramref name="pid"/> (the nft monitor).</summary>
    private static List<int> Children(int pid)
    {
        var list = new List<int>();
        foreach (var d in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(d), out var child))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(d, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[1] == pid.ToString(System.Globalization.CultureInfo.InvariantCulture) && fields[0] != "Z")
                    list.Add(child);
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
        }
        return list;
    }

    public void Dispose() => _env.Dispose();
}
