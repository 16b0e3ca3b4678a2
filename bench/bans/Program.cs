// Fleet propagation latency: three members (stores + fleet layers) against a redis-server
// child process on a free loopback port. Each ban or unban is made on one member; the
// latency is from the call until each other member's store raises the change (its
// decisions see it from then on). Bounded: N changes, paced, then everything stops.
// Usage: dotnet run -c Release --project bench/bans [changes=2000] [interval-ms=2]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Giftwrap.Bans;
using Giftwrap.Bans.Redis;

var changes = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
var intervalMs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
var root = Directory.CreateTempSubdirectory("giftwrap-bench-fleet-").FullName;
var port = FreePort();
var psi = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true };
foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", root })
    psi.ArgumentList.Add(a);
using var redis = Process.Start(psi)!;
redis.OutputDataReceived += (_, _) => { };
redis.BeginOutputReadLine();
try
{
    await WaitForPort(port);
    var members = new List<(BanStore Store, BanFleet Fleet)>();
    var arrived = new Dictionary<(int, string), long>();
    for (var i = 0; i < 3; i++)
    {
        var store = BanStore.Open(new BanOptions { Store = Path.Combine(root, $"m{i}"), Origin = $"m{i}" });
        var fleet = await BanFleet.JoinAsync(store, new FleetOptions { Redis = $"127.0.0.1:{port}", Rate = new FleetRate(0, TimeSpan.FromMinutes(1)) });
        var index = i;
        store.Changed += (_, e) =>
        {
            if (e.Change.IsRemote)
            {
                lock (arrived)
                    arrived[(index, $"{e.Change.Kind}:{e.Change.Target}")] = Stopwatch.GetTimestamp();
            }
        };
        members.Add((store, fleet));
    }
    var sent = new List<(int From, string Key, long At)>();
    for (var n = 0; n < changes; n++)
    {
        var from = n % 3;
        var target = BanTarget.Parse($"10.{(n / 2) / 65536 % 256}.{(n / 2) / 256 % 256}.{(n / 2) % 256}");
        var unban = n % 2 == 1; // every other change unbans the address banned just before (from another member)
        var t0 = Stopwatch.GetTimestamp();
        if (unban)
        {
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (members[from].Store.Find(target.Address, "sshd", DateTimeOffset.UtcNow) is null && DateTime.UtcNow < deadline)
                await Task.Delay(1);
            t0 = Stopwatch.GetTimestamp();
            members[from].Store.Unban(target);
        }
        else
        {
            members[from].Store.Ban(new BanRequest { Target = target, Duration = TimeSpan.FromHours(1) });
        }
        sent.Add((from, $"{(unban ? BanChangeKind.Unbanned : BanChangeKind.Banned)}:{target}", t0));
        await Task.Delay(intervalMs);
    }
    await Task.Delay(2000);
    var latencies = new List<double>();
    var missing = 0;
    lock (arrived)
    {
        foreach (var (from, key, at) in sent)
        {
            for (var m = 0; m < 3; m++)
            {
                if (m == from)
                    continue;
                if (arrived.TryGetValue((m, key), out var t))
                    latencies.Add(Stopwatch.GetElapsedTime(at, t).TotalMilliseconds);
                else
                    missing++;
            }
        }
    }
    latencies.Sort();
    double P(double q) => latencies.Count == 0 ? double.NaN : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(q * latencies.Count) - 1)];
    Console.WriteLine($"fleet propagation, 3 members, loopback: {changes} changes ({changes / 2} bans, {changes / 2} unbans), {latencies.Count} arrivals, {missing} missing");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"p50 {P(0.50):F2} ms  p90 {P(0.90):F2} ms  p99 {P(0.99):F2} ms  max {latencies.LastOrDefault():F2} ms"));
    foreach (var (store, fleet) in members)
    {
        await fleet.DisposeAsync();
        store.Dispose();
    }
}
finally
{
    redis.Kill(entireProcessTree: true);
    redis.WaitForExit(10_000);
    Directory.Delete(root, recursive: true);
}

static int FreePort()
{
    var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    var p = ((IPEndPoint)l.LocalEndpoint).Port;
    l.Stop();
    return p;
}

static async Task WaitForPort(int port)
{
    for (var i = 0; i < 200; i++)
    {
        try
        {
            using var c = new TcpClient();
            await c.ConnectAsync(IPAddress.Loopback, port);
            return;
        }
        catch (SocketException)
        {
            await Task.Delay(50); // not listening yet
        }
    }
    throw new TimeoutException("redis-server did not start");
}
