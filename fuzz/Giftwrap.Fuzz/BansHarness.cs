// The ban journal reader: the input up to "\n%%\n" as DIR/journal, the rest as DIR/snapshot,
// opened as `giftwrap bans` and the gate open a store, listed and searched; then one ban is
// written and the store opened again, which must find it (an acknowledged ban is never lost,
// whatever damage the files held). A record line that ends in a tab and "????????" gets its
// right checksum first, so that afl reaches past the checksum into the fields.
using System.Net;
using System.Text;
using Giftwrap.Bans;
using Giftwrap.Bans.Storage;

namespace Giftwrap.Fuzz;

public static class BansHarness
{
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private static readonly IPAddress Banned = IPAddress.Parse("198.51.100.77");

    public static void Run(byte[] input)
    {
        var (journal, snapshot) = Harnesses.Split(input);
        var dir = Path.Combine(Harnesses.Scratch, "bans");
        if (Directory.Exists(dir))
            Directory.Delete(dir, recursive: true);
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "journal"), WithChecksums(journal));
        if (snapshot.Length > 0)
            File.WriteAllBytes(Path.Combine(dir, "snapshot"), WithChecksums(snapshot));
        var options = new BanOptions { Store = dir, Origin = "fuzz", Time = new FixedTime(Now) };
        using (var store = BanStore.Open(options, watch: false))
        {
            _ = store.List(Now);
            _ = store.CountActive(Now);
            _ = store.Find(IPAddress.Parse("10.9.8.7"), "sshd", Now);
            _ = store.Find(IPAddress.Parse("2001:db8::1"), "sshd", Now);
            var result = store.Ban(new BanRequest { Target = BanTarget.Parse("198.51.100.77"), Reason = "fuzz" });
            if (!result.Succeeded)
                throw new InvalidOperationException($"the ban was refused: {result.Message}");
        }
        using (var again = BanStore.Open(options, watch: false))
        {
            if (again.Find(Banned, "sshd", Now) is null)
                throw new InvalidOperationException("an acknowledged ban is missing when the store is opened again");
        }
    }

    private static byte[] WithChecksums(byte[] text)
    {
        var marker = "\t????????"u8;
        if (text.AsSpan().IndexOf(marker) < 0)
            return text;
        var output = new List<byte>(text.Length);
        foreach (var range in text.AsSpan().Split((byte)'\n'))
        {
            var line = text.AsSpan(range);
            if (line.EndsWith(marker))
            {
                var body = line[..^8];
                output.AddRange(body);
                output.AddRange(Encoding.ASCII.GetBytes(JournalFormat.Crc(Encoding.UTF8.GetString(body[..^1])).ToString("x8", System.Globalization.CultureInfo.InvariantCulture)));
            }
            else
            {
                output.AddRange(line);
            }
            output.Add((byte)'\n');
        }
        output.RemoveAt(output.Count - 1);
        return [.. output];
    }

    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
