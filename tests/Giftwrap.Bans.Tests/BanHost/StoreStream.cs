// `stream STORE FIRST COUNT COMPACT_AT [FILLER]`: a writer for the crash and full-disk tests.
// Bans 10.x.y.z addresses numbered from FIRST, printing "ack N" once each ban is acknowledged
// (on disk), "error MESSAGE" when one is refused; with FILLER (a file on the same disk), after
// the third refusal it deletes the filler, says "freed", and goes on. At the end it reopens the
// store and prints "have N" for every active ban and "problem TEXT" for every problem, then "done".
using System.Net;
using Giftwrap.Bans;

internal static class StoreStream
{
    public static int Run(string[] args)
    {
        var options = new BanOptions { Store = args[0], Origin = "stream", BanTime = TimeSpan.FromDays(1) };
        var first = int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture);
        var count = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
        var filler = args.Length > 4 ? args[4] : null;
        var errors = 0;
        using (var store = BanStore.Open(options, watch: false))
        {
            store.CompactThreshold = long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture);
            for (var n = first; n < first + count && errors < 50;)
            {
                try
                {
                    store.Ban(new BanRequest { Target = BanTarget.FromAddress(Address(n)) });
                    Console.Out.WriteLine($"ack {n}");
                    Console.Out.Flush();
                    n++;
                }
                catch (IOException ex)
                {
                    errors++;
                    Console.Out.WriteLine($"error {ex.Message.ReplaceLineEndings(" ")}");
                    if (errors == 3 && filler is not null)
                    {
                        File.Delete(filler);
                        Console.Out.WriteLine("freed");
                    }
                }
            }
        }
        using var reopened = BanStore.Open(options, watch: false);
        foreach (var e in reopened.List(DateTimeOffset.UtcNow))
            Console.Out.WriteLine($"have {Number(e.Target)}");
        foreach (var p in reopened.Problems)
            Console.Out.WriteLine($"problem {p.ToString().ReplaceLineEndings(" ")}");
        Console.Out.WriteLine("done");
        return 0;
    }

    public static IPAddress Address(int n) => new([10, (byte)(n >> 16), (byte)(n >> 8), (byte)n]);

    private static int Number(BanTarget t)
    {
        var b = IPAddress.Parse(t.ToString().Split('/')[0]).GetAddressBytes();
        return (b[1] << 16) | (b[2] << 8) | b[3];
    }
}
