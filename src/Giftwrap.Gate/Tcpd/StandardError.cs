// tcpd mode's few words to descriptor 2 (a usage error), written with write(2). Not
// System.Console: its writer, encodings and terminal handling are a tenth of giftwrap-tcpd's
// types, all for a line that only a mistyped inetd.conf ever prints (docs/benchmarks.md, issue 16).
using System.Text;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Tcpd;

internal static unsafe class StandardError
{
    /// <summary>Writes <paramref name="line"/> and a newline to descriptor 2 as UTF-8, as Console.Error would; errors are ignored, as there.</summary>
    public static void WriteLine(string line)
    {
        var bytes = Encoding.UTF8.GetBytes(line + "\n");
        fixed (byte* p = bytes)
        {
            for (var done = 0; done < bytes.Length;)
            {
                var n = Libc.write(2, p + done, (nuint)(bytes.Length - done));
                if (n > 0)
                    done += (int)n;
                else if (n < 0 && Libc.Errno == Libc.EIntr)
                    continue;
                else
                    return;
            }
        }
    }
}
