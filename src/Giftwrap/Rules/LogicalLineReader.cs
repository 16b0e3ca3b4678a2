// Splits a table into logical lines exactly as libwrap's xgets() over a 2,048-byte
// buffer does: backslash-newline joins lines, the physical line counter moves only
// when a newline is read, a NUL byte hides the rest of what fgets() returned, and a
// line too long for the buffer comes out in pieces. Judging the pieces is left to
// RuleReader; this file only reproduces the cutting.
namespace Giftwrap.Rules;

/// <summary>One logical line as libwrap sees it.</summary>
/// <param name="Text">The bytes (as Latin-1 chars), including the final newline when there was one.</param>
/// <param name="Line">libwrap's line counter after reading it (the last physical line of a continued rule).</param>
/// <param name="FirstLine">The physical line where the logical line started.</param>
/// <param name="Offset">Byte offset of the start of the logical line in the file.</param>
internal readonly record struct LogicalLine(string Text, int Line, int FirstLine, int Offset)
{
    public bool EndsWithNewline => Text.Length > 0 && Text[^1] == '\n';
}

internal static class LogicalLineReader
{
    /// <summary>libwrap's BUFLEN: one logical line holds at most 2,047 bytes and a NUL.</summary>
    public const int BufferLength = 2048;

    public static List<LogicalLine> Read(ReadOnlySpan<byte> data)
    {
        var lines = new List<LogicalLine>();
        var pos = 0;
        var line = 0;
        var buffer = new char[BufferLength];
        while (true)
        {
            var start = pos;
            var firstLine = line + 1;
            var got = NextLogicalLine(data, ref pos, ref line, buffer);
            if (got < 0)
                break;
            lines.Add(new LogicalLine(new string(buffer, 0, got), line, firstLine, start));
        }
        return lines;
    }

    // xgets(): fill the buffer with fgets() calls until a newline that is not escaped.
    // Returns the length, or -1 at end of file with nothing read.
    private static int NextLogicalLine(ReadOnlySpan<byte> data, ref int pos, ref int line, char[] buffer)
    {
        var filled = 0;
        var room = BufferLength;
        // glibc's fgets() with room for only the NUL reads nothing; Debian's xgets stops there.
        while (room > 1 && pos < data.Length)
        {
            var chunkStart = pos;
            var max = room - 1;
            var end = chunkStart;
            while (end < data.Length && end - chunkStart < max)
            {
                if (data[end++] == (byte)'\n')
                    break;
            }
            pos = end;
            // strlen() stops at a NUL: whatever fgets() read after it is lost.
            var got = 0;
            while (chunkStart + got < end && data[chunkStart + got] != 0)
                got++;
            for (var i = 0; i < got; i++)
                buffer[filled + i] = (char)data[chunkStart + i];
            if (got >= 1 && buffer[filled + got - 1] == '\n')
            {
                line++;
                if (got >= 2 && buffer[filled + got - 2] == '\\')
                {
                    got -= 2;
                }
                else
                {
                    return filled + got;
                }
            }
            filled += got;
            room -= got;
        }
        // xgets() returns NULL when nothing was kept, even if bytes were read: that ends the table.
        return filled > 0 ? filled : -1;
    }
}
