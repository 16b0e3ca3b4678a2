// `giftwrap match --batch`: one request per input line, one verdict per output
// line, in order, streaming (constant memory whatever the input size). Names are
// taken as given: nothing is looked up. A malformed line is refused, and said so.
using Giftwrap.Decisions;

namespace Giftwrap.Cli.Commands;

internal static class BatchMatcher
{
    public static int Run(string allow, string deny, TextReader input, TextWriter output, TextWriter errors)
    {
        // The note is shown while the tables compile only: the decisions that follow are the fast path.
        using var tables = TableOptions.Compile(allow, deny);
        var lineNumber = 0;
        var bad = 0;
        string? line;
        while ((line = input.ReadLine()) is not null)
        {
            lineNumber++;
            if (!TryParse(line, out var request, out var problem))
            {
                bad++;
                errors.WriteLine($"giftwrap: stdin line {lineNumber}: {problem}; answered denied");
                output.WriteLine("denied\t-");
                continue;
            }
            var d = tables.Decide(request);
            output.Write(VerdictWords.Of(d.IsGranted) + "\t");
            output.WriteLine(d.Match is { } m ? $"{m.File}:{m.Line}" : "-");
        }
        output.Flush();
        return bad == 0 ? 0 : 1;
    }

    internal static bool TryParse(string line, out AccessRequest request, out string? problem)
    {
        request = new AccessRequest();
        var f = line.Split('\t');
        if (f.Length != 7)
        {
            problem = $"expected 7 tab-separated fields, found {f.Length}";
            return false;
        }
        if (!int.TryParse(f[6], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            problem = $"bad server port \"{f[6]}\"";
            return false;
        }
        request = new AccessRequest
        {
            Daemon = Known(f[0]) ?? AccessRequest.Unknown,
            ClientName = Known(f[1]) ?? AccessRequest.Unknown,
            ClientAddress = Known(f[2]),
            ClientUser = Known(f[3]) ?? AccessRequest.Unknown,
            ServerName = Known(f[4]) ?? AccessRequest.Unknown,
            ServerAddress = Known(f[5]),
            ServerPort = port,
        };
        problem = null;
        return true;
    }

    private static string? Known(string field) => field == "-" ? null : field;
}
