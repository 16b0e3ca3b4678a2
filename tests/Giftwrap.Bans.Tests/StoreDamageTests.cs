// The ban store against damage and bad luck: one byte changed in a header or a record
// separator, a writer killed with SIGKILL at any point, a full disk. No acknowledged ban
// is lost, damage is reported with file:line and the damaged file kept aside, and a
// read-only listing leaves the store's files exactly as it found them.
using System.Diagnostics;
using System.Net;
using System.Text;

namespace Giftwrap.Bans.Tests;

public sealed class StoreDamageTests
{
    // Five bans compacted into the snapshot (generation 1), five more in the journal that follows it.
    private static string[] Prepare(TempStore dir)
    {
        using var store = BanStore.Open(dir.Options(), watch: false);
        var targets = Enumerable.Range(1, 10).Select(i => $"192.0.2.{i}").ToArray();
        foreach (var t in targets[..5])
            store.Ban(new BanRequest { Target = BanTarget.Parse(t), Duration = TimeSpan.FromDays(1) });
        store.Compact();
        foreach (var t in targets[5..])
            store.Ban(new BanRequest { Target = BanTarget.Parse(t), Duration = TimeSpan.FromDays(1) });
        return targets;
    }

    private static void Damage(string path, Func<byte[], byte[]> change) => File.WriteAllBytes(path, change(File.ReadAllBytes(path)));

    private static byte[] Replace(byte[] bytes, string from, string to)
    {
        var text = Encoding.UTF8.GetString(bytes);
        Assert.Contains(from, text, StringComparison.Ordinal);
        var i = text.IndexOf(from, StringComparison.Ordinal);
        return Encoding.UTF8.GetBytes(string.Concat(text.AsSpan(0, i), to, text.AsSpan(i + from.Length)));
    }

    public static TheoryData<string, string, string> HeaderDamage => new()
    {
        { "journal", "gen=1\n", "gen=0\n" },     // names an older generation: looked like a finished compaction
        { "journal", "gen=1\n", "gen=1X" },      // the header's newline: the first record glued to it
        { "journal", "gen=1\n", "gen=1 " },
        { "snapshot", "gen=1 ", "gen=0 " },
        { "snapshot", "\n#end\n", "X#end\n" },
    };

    [Theory]
    [MemberData(nameof(HeaderDamage))]
    public void ReadOnlyListing_DamagedHeader_ListsEveryBanReportsAndLeavesTheStoreAlone(string file, string from, string to)
    {
        using var dir = new TempStore();
        var targets = Prepare(dir);
        var path = Path.Combine(dir.StoreDir, file);
        Damage(path, b => Replace(b, from, to));
        var before = Directory.GetFiles(dir.StoreDir).Where(f => !f.Contains(".damaged-", StringComparison.Ordinal)).ToDictionary(f => f, File.ReadAllBytes);

        var listing = BanCli.Run("bans", "--config", dir.Config());
        foreach (var t in targets)
            Assert.Contains(t + " ", listing.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{path}", listing.Stderr, StringComparison.Ordinal);
        foreach (var (f, bytes) in before)
            Assert.True(bytes.AsSpan().SequenceEqual(File.ReadAllBytes(f)), $"{f} was rewritten by a read-only listing");
        var copies = Directory.GetFiles(dir.StoreDir, $"{file}.damaged-*");
        Assert.Single(copies);
        Assert.Equal(before[path], File.ReadAllBytes(copies[0]));

        // A writer (the gate) still enforces every ban, and after its first write the store reads clean.
        using (var writer = BanStore.Open(dir.Options(), watch: false))
        {
            Assert.Contains(writer.Problems, p => p.File == path && p.Line >= 1);
            Assert.All(writer.Problems, p => Assert.True(p.Line > 0 || !p.Message.Contains("removed", StringComparison.Ordinal), p.ToString()));
            foreach (var t in targets)
                Assert.NotNull(writer.Find(IPAddress.Parse(t), "sshd", DateTimeOffset.UtcNow));
            writer.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.200"), Duration = TimeSpan.FromDays(1) });
        }
        using var again = BanStore.Open(dir.Options(), watch: false);
        Assert.Equal(11, again.List(DateTimeOffset.UtcNow).Count);
    }

    [Fact]
    public void Open_RecordSeparatorsDamaged_EveryIntactRecordRead()
    {
        using var dir = new TempStore();
        var targets = Prepare(dir);
        var journal = Path.Combine(dir.StoreDir, "journal");
        // The newline between the 2nd and 3rd records, and the very last one, changed.
        Damage(journal, b =>
        {
            var newlines = b.Select((x, i) => (x, i)).Where(p => p.x == (byte)'\n').Select(p => p.i).ToArray();
            b[newlines[2]] = (byte)'#';
            b[newlines[^1]] = (byte)'Z';
            return b;
        });
        using (var store = BanStore.Open(dir.Options(), watch: false))
        {
            foreach (var t in targets[..^1])
                Assert.NotNull(store.Find(IPAddress.Parse(t), "sshd", DateTimeOffset.UtcNow));
            Assert.Contains(store.Problems, p => p.File == journal && p.Line == 3);
            // The last record lost its newline: a writer keeps it (its checksum holds) instead of cutting it off.
            store.Ban(new BanRequest { Target = BanTarget.Parse("192.0.2.201"), Duration = TimeSpan.FromDays(1) });
        }
        using var again = BanStore.Open(dir.Options(), watch: false);
        foreach (var t in targets.Append("192.0.2.201"))
            Assert.NotNull(again.Find(IPAddress.Parse(t), "sshd", DateTimeOffset.UtcNow));
    }

    [Fact]
    public void KilledWriter_AtAnyPointOfAWrite_NoAcknowledgedBanLost()
    {
        using var dir = new TempStore();
        var acked = new HashSet<int>();
        var rng = new Random(20261130);
        var next = 0;
        for (var round = 0; round < 12; round++)
        {
            // A small compaction threshold: the kill lands in appends, fsyncs and compactions alike.
            using var p = Process.Start(BanCli.StartInfo(null, "stream", dir.StoreDir, next.ToString(System.Globalization.CultureInfo.InvariantCulture), "100000", "3000"))!;
            var killAfter = 5 + rng.Next(120);
            var seen = 0;
            while (p.StandardOutput.ReadLine() is { } line)
            {
                if (line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    acked.Add(int.Parse(line[4..], System.Globalization.CultureInfo.InvariantCulture));
                    next = Math.Max(next, acked.Max() + 1);
                    if (++seen == killAfter)
                    {
                        // Let it get into its next write before the SIGKILL.
                        Thread.SpinWait(rng.Next(200_000));
                        p.Kill();
                        break;
                    }
                }
            }
            Assert.True(p.WaitForExit(60_000));
            next += 1000; // a ban in flight at the kill may or may not be there; never reuse its number
        }
        Assert.True(acked.Count > 100, $"only {acked.Count} bans acknowledged");
        using var store = BanStore.Open(new BanOptions { Store = dir.StoreDir, Origin = "check" }, watch: false);
        var missing = acked.Where(n => store.Find(StoreStreamAddress(n), "sshd", DateTimeOffset.UtcNow) is null).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} acknowledged bans lost, e.g. {string.Join(", ", missing.Take(5))}");
        Assert.DoesNotContain(store.Problems, p => p.Message.Contains("damaged", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FullDisk_ClearErrorWriterGoesOnAndNoAcknowledgedBanLost()
    {
        using var dir = new TempStore();
        var mount = Directory.CreateDirectory(Path.Combine(dir.Dir, "tiny")).FullName;
        var store = Path.Combine(mount, "store");
        var filler = Path.Combine(mount, "filler");
        // A 512 KiB tmpfs in a mount namespace of the child's own; a 400 KiB filler leaves room for about a thousand bans.
        var script = "mount -t tmpfs -o size=512k giftwrap-test \"$1\" && head -c 409600 /dev/zero > \"$2\" && shift 2 && exec \"$@\"";
        var psi = BanCli.StartInfo(null, "stream", store, "0", "3000", "20000", filler);
        var args = new List<string> { "--mount", "--propagation", "private", "sh", "-c", script, "sh", mount, filler, psi.FileName };
        args.AddRange(psi.ArgumentList);
        psi.FileName = "unshare";
        psi.ArgumentList.Clear();
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (await p.StandardOutput.ReadLineAsync() is { } line)
            lines.Add(line);
        Assert.True(p.WaitForExit(120_000));
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {await stderr}");
        var errors = lines.Where(l => l.StartsWith("error ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count >= 3, "the disk never filled");
        Assert.All(errors, e => Assert.Contains("No space left on device", e, StringComparison.Ordinal));
        Assert.All(errors, e => Assert.DoesNotContain(" at ", e, StringComparison.Ordinal)); // no stack trace
        Assert.Contains("freed", lines);
        var acked = lines.Where(l => l.StartsWith("ack ", StringComparison.Ordinal)).Select(l => int.Parse(l[4..], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Contains(acked, n => n > acked[0] && lines.IndexOf($"ack {n}") > lines.IndexOf("freed")); // bans again once there is room
        var have = lines.Where(l => l.StartsWith("have ", StringComparison.Ordinal)).Select(l => int.Parse(l[5..], System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
        var lost = acked.Where(n => !have.Contains(n)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged bans lost, e.g. {string.Join(", ", lost.Take(5))}");
        Assert.DoesNotContain(lines, l => l.StartsWith("problem ", StringComparison.Ordinal) && l.Contains("damaged", StringComparison.Ordinal));
        Assert.Contains("done", lines);
    }

    private static IPAddress StoreStreamAddress(int n) => new([10, (byte)(n >> 16), (byte)(n >> 8), (byte)n]);
}
