// `giftwrap match --batch`: one request per input line, one verdict per output
// line, in order, streaming (constant memory whatever the input size). Names are
// taken as given: nothing is looked up. A malformed line is refused, and said so; so is a
// line longer than MaxLine, read away without being kept (memory stays bounded).
using System.Text;
using Giftwrap.Decisions;

namespace Giftwrap.Cli.Commands;

internal static class BatchMatcher
{
    /// <summary>The longest request line kept: seven fields of names and addresses fit in far less.</summary>
    internal const int MaxLine = 65536;

    public static int Run(string allow, string deny, TextReader input, TextWriter output, TextWriter errors)
    {
        // The note is shown while the tables compile only: the decisions that follow are the fast path.
        using var tables = TableOptions.Compile(allow, deny);
        var lineNumber = 0;
        var bad = 0;
        var lines = new BoundedLines(input, MaxLine);
        string? line;
        while ((line = lines.Next(out var tooLong)) is not null)
        {
            lineNumber++;
            string? problem = null;
            if (tooLong || !TryParse(line, out var request, out problem))
            {
                bad++;
                errors.WriteLine($"giftwrap: stdin line {lineNumber}: {problem ?? $"longer than {MaxLine} characters"}; answered denied");
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
            // Batch input is often made from logs: what it quotes from them goes to a terminal.
            problem = $"bad server port \"{TerminalText.Printable(f[6])}\"";
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

    /// <summary>
    /// TextReader.ReadLine() (a line ends at \n, \r\n or \r) with a bound: of a line longer than
    /// <paramref name="max"/> characters nothing is kept, and Next says so.
    /// </summary>
    internal sealed class BoundedLines(TextReader input, int max)
    {
        private readonly char[] _buffer = new char[8192];
        private readonly StringBuilder _line = new();
        private int _pos;
        private int _len;
        private bool _skipLf;

        public string? Next(out bool tooLong)
        {
            _line.Clear();
            tooLong = false;
            var any = false;
            while (true)
            {
                if (_pos == _len)
                {
                    _pos = 0;
                    _len = Math.Max(0, input.Read(_buffer, 0, _buffer.Length));
                    if (_len == 0)
                        return any ? (tooLong ? "" : _line.ToString()) : null;
                }
                // The \n of a \r\n that the last buffer ended inside.
                if (_skipLf && _buffer[_pos] == '\n')
                {
                    _skipLf = false;
                    _pos++;
                    continue;
                }
                _skipLf = false;
                any = true;
                var span = _buffer.AsSpan(_pos, _len - _pos);
                var end = span.IndexOfAny('\r', '\n');
                var take = end < 0 ? span.Length : end;
                if (!tooLong && _line.Length + take > max)
                {
                    tooLong = true;
                    _line.Clear();
                }
                if (!tooLong)
                    _line.Append(span[..take]);
                _pos += take;
                if (end >= 0)
                {
                    _skipLf = span[end] == '\r';
                    _pos++;
                    return tooLong ? "" : _line.ToString();
                }
            }
        }
    }
}
