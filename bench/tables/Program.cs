// Decisions per second on live tables from 1, 2 and 8 threads: every decision checks the files
// for changes first, as the gate's loops do. Arguments: seconds per measure (default 3).
using System.Diagnostics;
using Giftwrap.Decisions;
using Giftwrap.Tables;

var seconds = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 3;
var dir = Directory.CreateTempSubdirectory("giftwrap-live-").FullName;
try
{
    var deny = new System.Text.StringBuilder();
    for (var i = 0; i < 10_000; i++)
        deny.Append("sshd: 10.").Append((i >> 8) & 255).Append('.').Append(i & 255).Append(".1\n");
    deny.Append("ALL: 192.0.2.0/24 EXCEPT 192.0.2.7\n");
    File.WriteAllText(Path.Combine(dir, "hosts.allow"), "sshd: 198.51.100.0/255.255.255.0\nftpd: ALL\n");
    File.WriteAllText(Path.Combine(dir, "hosts.deny"), deny.ToString());
    using var tables = new AccessTables(Path.Combine(dir, "hosts.allow"), Path.Combine(dir, "hosts.deny"));
    AccessRequest[] requests = [.. new[] { "198.51.100.9", "10.0.5.1", "192.0.2.7", "203.0.113.4" }.Select(a => new AccessRequest { Daemon = "sshd", ClientAddress = a })];
    foreach (var threads in new[] { 1, 2, 8 })
    {
        var stop = Stopwatch.StartNew();
        var counts = new long[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            long n = 0;
            while (stop.ElapsedMilliseconds < seconds * 1000L)
            {
                for (var k = 0; k < 256; k++)
                    _ = tables.Decide(requests[(k + t) & 3]);
                n += 256;
            }
            counts[t] = n;
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        Console.WriteLine($"{threads} thread(s): {counts.Sum() / stop.Elapsed.TotalSeconds / 1e6:0.00} M decisions/s");
    }
}
finally
{
    Directory.Delete(dir, recursive: true);
}
