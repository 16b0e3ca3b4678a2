// 100,000 bans into the kernel, side by side in one run (run inside a network namespace:
// bench/kernel/run.sh does `unshare -n`): Giftwrap's kernel side writing the whole table
// (one `nft -f -`), Giftwrap's incremental path (a BanMany of N bans reaching the kernel
// as batches), Fail2ban's nftables action style (one `nft add element` process per ban:
// a sample, extrapolated, and said so), and a bare `nft -f` of the same addresses.
// Usage: dotnet bench/kernel/bin/Release/net10.0/Giftwrap.Bench.Kernel.dll [bans=100000] [sample=1000] [rounds=3]
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Giftwrap.Bans;
using Giftwrap.Kernel;

var n = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 100_000;
var sample = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
var root = Directory.CreateTempSubdirectory("giftwrap-bench-kernel-").FullName;
var log = new QuietLog();
string Address(int i) => $"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}";
try
{
    Console.WriteLine($"{n} bans (IPv4 addresses, 1 h each); {Environment.ProcessorCount} cores; {rounds} round(s), median shown");
    // 1. The whole table from a store of N bans: one transaction.
    var full = new List<double>();
    var incremental = new List<double>();
    for (var r = 0; r < rounds; r++)
    {
        Run(["flush", "ruleset"], null);
        using var store = BanStore.Open(new BanOptions { Store = Path.Combine(root, $"s{r}"), ProtectLoopback = true }, watch: false);
        store.BanMany(Enumerable.Range(0, n).Select(i => new BanRequest { Target = BanTarget.Parse(Address(i)), Duration = TimeSpan.FromHours(1) }));
        await using var kernel = new KernelSync(store, new KernelOptions { Reconcile = TimeSpan.FromHours(1) }, log);
        var sw = Stopwatch.StartNew();
        if (!await kernel.RewriteAsync("bench", CancellationToken.None))
            throw new InvalidOperationException("nft refused the table");
        full.Add(sw.Elapsed.TotalSeconds);
        Check(n);
    }
    for (var r = 0; r < rounds; r++)
    {
        // 2. The incremental path: an empty table, then N bans in one BanMany; timed until the kernel holds them.
        Run(["flush", "ruleset"], null);
        using var store = BanStore.Open(new BanOptions { Store = Path.Combine(root, $"i{r}"), ProtectLoopback = true }, watch: false);
        await using var kernel = new KernelSync(store, new KernelOptions { Reconcile = TimeSpan.FromHours(1) }, log);
        await kernel.StartAsync();
        var sw = Stopwatch.StartNew();
        store.BanMany(Enumerable.Range(0, n).Select(i => new BanRequest { Target = BanTarget.Parse(Address(i)), Duration = TimeSpan.FromHours(1) }));
        var stored = sw.Elapsed.TotalSeconds;
        while (kernel.Elements < n)
        {
            if (sw.Elapsed > TimeSpan.FromMinutes(5))
                throw new TimeoutException("the kernel did not get the bans within 5 minutes");
            await Task.Delay(5);
        }
        incremental.Add(sw.Elapsed.TotalSeconds);
        Console.WriteLine($"  round {r + 1}: BanMany of {n} into the store {stored:F2} s, in the kernel after {sw.Elapsed.TotalSeconds:F2} s");
        Check(n);
    }
    // 3. Fail2ban's nftables action: `nft add element inet f2b-table addr-set-sshd { IP }`, one process per ban.
    Run(["flush", "ruleset"], null);
    Run(["-f", "-"], "table inet f2b-table {\n set addr-set-sshd { type ipv4_addr; elements = { 192.0.2.1 } }\n chain f2b-chain { type filter hook input priority filter - 1; policy accept;\n  tcp dport 22 ip saddr @addr-set-sshd reject\n }\n}\n");
    var perBan = Stopwatch.StartNew();
    for (var i = 0; i < sample; i++)
        Run(["add", "element", "inet", "f2b-table", "addr-set-sshd", $"{{ {Address(i)} }}"], null);
    var sampleSeconds = perBan.Elapsed.TotalSeconds;
    // 4. The same N addresses through one bare `nft -f` (no timeouts, one set): the floor.
    var bare = new List<double>();
    for (var r = 0; r < rounds; r++)
    {
        Run(["flush", "ruleset"], null);
        var sb = new StringBuilder("table inet bare {\n set s { type ipv4_addr; flags timeout; }\n}\nadd element inet bare s {");
        for (var i = 0; i < n; i++)
            sb.Append(i == 0 ? " " : ",\n").Append(Address(i)).Append(" timeout 3600s");
        sb.Append(" }\n");
        var sw = Stopwatch.StartNew();
        Run(["-f", "-"], sb.ToString());
        bare.Add(sw.Elapsed.TotalSeconds);
    }
    Run(["flush", "ruleset"], null);
    Console.WriteLine($"giftwrap kernel side, whole table (one nft -f):      {Median(full):F2} s   ({string.Join(", ", full.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))})");
    Console.WriteLine($"giftwrap kernel side, store BanMany -> kernel:      {Median(incremental):F2} s   ({string.Join(", ", incremental.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))})");
    Console.WriteLine($"one bare nft -f of the same elements:               {Median(bare):F2} s   ({string.Join(", ", bare.Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))})");
    Console.WriteLine($"Fail2ban style, one nft per ban: {sample} bans in {sampleSeconds:F2} s = {sampleSeconds / sample * 1000:F1} ms/ban; extrapolated to {n}: {sampleSeconds / sample * n:F0} s (measured on {sample}, not {n})");
}
finally
{
    Directory.Delete(root, true);
}

static double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);

static void Check(int n)
{
    var listed = Run(["list", "set", "inet", "giftwrap", "a4"], null);
    var count = listed.Split(',').Length;
    if (count < n)
        throw new InvalidOperationException($"the kernel holds {count} elements, not {n}");
}

// nft with its arguments as argv (no shell), the script on its standard input.
static string Run(string[] args, string? stdin)
{
    var psi = new ProcessStartInfo("nft", args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
    using var p = Process.Start(psi)!;
    var output = p.StandardOutput.ReadToEndAsync();
    var error = p.StandardError.ReadToEndAsync();
    if (stdin is not null)
        p.StandardInput.Write(stdin);
    p.StandardInput.Close();
    p.WaitForExit();
    if (p.ExitCode != 0)
        throw new InvalidOperationException($"nft {string.Join(' ', args)}: {error.Result}");
    return output.Result;
}

internal sealed class QuietLog : IKernelLog
{
    public void Info(string message) { }

    public void Warning(string message) => Console.Error.WriteLine($"warning: {message}");

    public void Error(string message) => Console.Error.WriteLine($"error: {message}");
}
