// Reads a store file's lines for the snapshot reader: split at '\n' only (as the journal's
// tail is), decoded as UTF-8, and never more than a fixed number of bytes held for one line:
// a longer line is skipped and said so, rather than read into a string of any size (a damaged
// or hostile snapshot of one 1 GB line). Not here: what a line means (JournalFormat).
using System.Text;

namespace Giftwrap.Bans.Storage;

internal static class BoundedLines
{
    /// <summary>Each line without its newline; null for a line longer than <paramref name="maxLine"/> bytes (skipped).</summary>
    public static IEnumerable<string?> Read(Stream stream, int maxLine)
    {
        var buffer = new byte[maxLine];
        var filled = 0;
        var skipping = false;
        while (true)
        {
            var n = stream.Read(buffer, filled, buffer.Length - filled);
            filled += n;
            var start = 0;
            while (start < filled && Array.IndexOf(buffer, (byte)'\n', start, filled - start) is var nl and >= 0)
            {
                if (!skipping)
                    yield return Encoding.UTF8.GetString(buffer, start, nl - start);
                skipping = false;
                start = nl + 1;
            }
            Array.Copy(buffer, start, buffer, 0, filled - start);
            filled -= start;
            if (n == 0)
            {
                if (filled > 0 && !skipping)
                    yield return Encoding.UTF8.GetString(buffer, 0, filled); // a last line without its newline
                yield break;
            }
            if (filled == buffer.Length)
            {
                // No newline in a full buffer: the line is too long. Said once, then dropped up to its newline.
                if (!skipping)
                    yield return null;
                skipping = true;
                filled = 0;
            }
        }
    }
}
