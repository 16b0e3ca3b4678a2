// Part 2 end to end: random tables (address-only and mixed), compiled by AddressRules into
// the kernel's per-daemon drop sets by the kernel side, then real connections from
// addresses bound on the namespace's loopback to the daemon's port. What the kernel drops
// must be exactly what the compiler claimed, every dropped address must be one `match`
// refuses whatever the names and user, and for address-only tables the kernel drops every
// address `match` refuses. Seeded: a failure names its seed and tables.
using System.Net;
using Giftwrap.Analysis;
using Giftwrap.Decisions;
using Giftwrap.Tables;
using Xunit.Abstractions;

namespace Giftwrap.Kernel.Tests;

public sealed class AddressRulesKernelTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-kernel-rules-").FullName;

    private static readonly string[] Sources =
        ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.9", "127.0.0.12", "127.0.1.9", "127.0.2.9", "fd00:1::5", "fd00:1::6", "fd00:2::5"];

    // Patterns libwrap matches against the address alone (a prefix ending in '.', net/mask, [v6]/len, ALL).
    private static readonly string[] AddressPatterns =
        ["127.0.0.", "127.0.1.", "127.0.0.0/255.255.255.248", "127.0.0.0/255.255.255.0", "[fd00:1::]/32", "[fd00:1::5]/128", "ALL",
         "ALL EXCEPT 127.0.0.6/255.255.255.255", "127.0.0. EXCEPT 127.0.0.4/255.255.255.254", "[fd00::]/16 EXCEPT [fd00:2::]/32", "127.0.2.0/255.255.255.0"];

    // Patterns that also match names or users, or need a lookup: an exact address (libwrap compares it with the name too), names, users, wildcards.
    private static readonly string[] MixedPatterns =
        ["LOCAL", "KNOWN", "UNKNOWN", "host.example", ".example", "PARANOID", "root@127.0.0.5", "root@ALL", "127.0.0.3 .example", "127.0.0.5", "[fd00:1::5]",
         "127.0.0.5 127.0.1.9", "127.0.2.9", "127.0.0.*"];

    private static readonly string[] Daemons = ["sshd", "ALL", "ftpd", "sshd, ftpd", "ALL EXCEPT ftpd", "ALL EXCEPT sshd"];

    private static readonly string[] Options = ["", "", "", " : spawn /bin/true", " : twist /bin/echo no", " : severity auth.info", " : banners /nonexistent"];

    [NfTablesFact]
    public async Task AddressOnlyTables_TheKernelDropsExactlyWhatMatchRefuses() => await RunAsync(mixed: false, seeds: 6);

    [NfTablesFact]
    public async Task MixedTables_TheKernelDropsWhatTheCompilerClaimed_AndNothingALookupCouldGrant() => await RunAsync(mixed: true, seeds: 6);

    [NfTablesFact]
    public async Task TableChange_ReplacesTheDropSets()
    {
        using var ns = NetNamespace.Create();
        using var listener = ns.Listen();
        var allow = Path.Combine(_dir, "hosts.allow");
        var deny = Path.Combine(_dir, "hosts.deny");
        File.WriteAllText(allow, "");
        File.WriteAllText(deny, "sshd: 127.0.8.0/255.255.255.0\n");
        var options = new KernelOptions { Nft = ns.Nft, Ports = [new KernelPort("sshd", listener.Port)], Reconcile = TimeSpan.FromMinutes(10) };
        await using var kernel = new KernelSync(null, options, new TestLog());
        kernel.Use(new KernelRules(allow, deny, options.Ports, [], live: true));
        Assert.True(await kernel.StartAsync());
        Assert.False(await ns.ConnectsAsync(IPAddress.Parse("127.0.8.5"), IPAddress.Loopback, listener.Port, TimeSpan.FromMilliseconds(1500)));
        Assert.True(await ns.ConnectsAsync(IPAddress.Parse("127.0.9.5"), IPAddress.Loopback, listener.Port, TimeSpan.FromSeconds(10)));
        File.WriteAllText(deny, "sshd: 127.0.9.0/255.255.255.0\n");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        while (!ns.Must("nft", "list", "ruleset").Stdout.Contains("127.0.9.0/24", StringComparison.Ordinal))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), "the new drop set is not in the kernel");
            await Task.Delay(20);
        }
        output.WriteLine($"table change in the kernel after {sw.ElapsedMilliseconds} ms");
        Assert.True(await ns.ConnectsAsync(IPAddress.Parse("127.0.8.5"), IPAddress.Loopback, listener.Port, TimeSpan.FromSeconds(10)));
        Assert.False(await ns.ConnectsAsync(IPAddress.Parse("127.0.9.5"), IPAddress.Loopback, listener.Port, TimeSpan.FromMilliseconds(1500)));
    }

    private async Task RunAsync(bool mixed, int seeds)
    {
        using var ns = NetNamespace.Create();
        foreach (var a in Sources.Where(s => s.Contains(':', StringComparison.Ordinal)))
            ns.Must("ip", "-6", "addr", "add", $"{a}/128", "dev", "lo", "nodad");
        using var listener = ns.Listen();
        var allow = Path.Combine(_dir, "hosts.allow");
        var deny = Path.Combine(_dir, "hosts.deny");
        var dropsSeen = 0;
        for (var seed = 0; seed < seeds; seed++)
        {
            var rng = new Random(seed + (mixed ? 1000 : 0));
            File.WriteAllText(allow, Table(rng, mixed, allowTable: true));
            File.WriteAllText(deny, Table(rng, mixed, allowTable: false) + (rng.Next(2) == 0 ? "ALL: ALL\n" : ""));
            var options = new KernelOptions { Nft = ns.Nft, Ports = [new KernelPort("sshd", listener.Port)] };
            await using (var kernel = new KernelSync(null, options, new TestLog()))
            {
                kernel.Use(new KernelRules(allow, deny, options.Ports, [], live: false));
                Assert.True(await kernel.RewriteAsync("test", CancellationToken.None));
            }
            using var tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = false });
            var verdicts = AddressRules.Compile(tables, "sshd", listener.Port);
            var dropped = await DroppedAsync(ns, listener.Port);
            var where = $"seed {seed} ({(mixed ? "mixed" : "address-only")})\nhosts.allow:\n{File.ReadAllText(allow)}hosts.deny:\n{File.ReadAllText(deny)}";
            foreach (var source in Sources)
            {
                var address = IPAddress.Parse(source);
                Assert.True(dropped.Contains(source) == verdicts.IsRefused(address), $"{source}: kernel {(dropped.Contains(source) ? "drops" : "lets through")}, compiler {(verdicts.IsRefused(address) ? "refuses" : "holds")}; {where}");
                var plain = tables.Decide(Request(source, null, null, listener.Port)).Verdict;
                if (dropped.Contains(source))
                {
                    // Nothing a lookup could say grants a dropped address.
                    foreach (var (name, user) in new[] { ((string?)null, (string?)null), ("host.example", "root"), ("localhost", "bob"), ("x.other", "root") })
                        Assert.True(tables.Decide(Request(source, name, user, listener.Port)).Verdict == Verdict.Denied, $"{source} dropped but granted as {name}/{user}; {where}");
                }
                else if (!mixed)
                {
                    Assert.True(plain == Verdict.Granted, $"{source}: match refuses it but the kernel lets it through; {where}");
                }
            }
            dropsSeen += dropped.Count;
        }
        output.WriteLine($"{seeds} tables, {dropsSeen} dropped source(s) in all");
        // The random tables must exercise drops at all, or the comparison proves nothing.
        Assert.True(dropsSeen > 0);
    }

    private static AccessRequest Request(string source, string? name, string? user, int port) => new()
    {
        Daemon = "sshd",
        ClientAddress = source,
        ClientName = name,
        ClientUser = user,
        ServerAddress = source.Contains(':', StringComparison.Ordinal) ? "::1" : "127.0.0.1",
        ServerPort = port,
    };

    /// <summary>The sources whose connection to <paramref name="port"/> does not complete: all tried at once, each given 3 s.</summary>
    private static async Task<HashSet<string>> DroppedAsync(NetNamespace ns, int port)
    {
        // 3 s: a loaded CI machine still completes a loopback handshake well within it; a dropped SYN never does.
        var tries = Sources.Select(s => ns.ConnectsAsync(IPAddress.Parse(s), s.Contains(':', StringComparison.Ordinal) ? IPAddress.IPv6Loopback : IPAddress.Loopback, port, TimeSpan.FromSeconds(3))).ToList();
        var results = await Task.WhenAll(tries);
        return [.. Sources.Where((s, i) => !results[i])];
    }

    private static string Table(Random rng, bool mixed, bool allowTable)
    {
        var lines = new System.Text.StringBuilder();
        var count = rng.Next(1, 5);
        for (var i = 0; i < count; i++)
        {
            var pool = mixed && rng.Next(3) == 0 ? MixedPatterns : AddressPatterns;
            var client = pool[rng.Next(pool.Length)];
            var option = mixed ? Options[rng.Next(Options.Length)] : "";
            // In hosts.allow a rule may end in deny (the options' verdict), in hosts.deny in allow.
            if (rng.Next(5) == 0)
                option += allowTable ? " : deny" : " : allow";
            lines.Append(Daemons[rng.Next(Daemons.Length)]).Append(": ").Append(client).Append(option).Append('\n');
        }
        return lines.ToString();
    }

    public void Dispose() => Directory.Delete(_dir, true);
}
