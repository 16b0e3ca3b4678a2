// /path pattern files, read and compiled on first use and kept until the file
// changes. libwrap re-reads the file each time the pattern is evaluated; the
// owner of the cache (AccessTables) drops an entry when its file changes.
// SECURITY: read on a decision's path, so TableFile's rules hold (non-blocking open,
// regular files only, bounded size); what libwrap would crash or hang on (a token
// longer than its buffer, /dev/zero, a FIFO) refuses access with the place named.
using System.Collections.Concurrent;
using Giftwrap.Patterns;

namespace Giftwrap.Tables;

/// <summary>
/// A compiled pattern file. <paramref name="Fatal"/> means libwrap would crash or hang on it, so access
/// is refused; otherwise <paramref name="Error"/> (with <paramref name="Code"/>) is a warning and libwrap's outcome is kept.
/// </summary>
internal sealed record PatternFileList(HostPattern[] Patterns, string? Error, bool Fatal = false, string Code = "file-open");

internal sealed class PatternFileCache(Action<string>? track)
{
    public static readonly PatternFileCache Empty = new(null);

    /// <summary>fscanf("%s") into libwrap's char tok[BUFSIZ]: a token this long or longer overflows it.</summary>
    internal const int TokenBuffer = 8192;

    /// <summary>The largest pattern file read: a list of a million addresses fits well within it.</summary>
    internal const long MaxBytes = 64L * 1024 * 1024;

    private readonly ConcurrentDictionary<string, PatternFileList> _files = new(StringComparer.Ordinal);

    // Bumped by every invalidation: a list read before a change is not cached after it.
    private long _epoch;

    public PatternFileList Get(string path)
    {
        if (_files.TryGetValue(path, out var list))
            return list;
        // Watched before it is read, so a change made after the read is always seen by the next poll.
        track?.Invoke(path);
        var epoch = Interlocked.Read(ref _epoch);
        list = Load(path);
        if (track is null)
            return list;
        var cached = _files.GetOrAdd(path, list);
        if (Interlocked.Read(ref _epoch) != epoch)
            _files.TryRemove(KeyValuePair.Create(path, cached)); // possibly stale: read again next time
        return list;
    }

    public void Invalidate(string path)
    {
        Interlocked.Increment(ref _epoch);
        _files.TryRemove(path, out _);
    }

    public void Clear()
    {
        Interlocked.Increment(ref _epoch);
        _files.Clear();
    }

    public IEnumerable<string> Paths => _files.Keys;

    private static PatternFileList Load(string path)
    {
        switch (TableFile.TryRead(path, out var data, out var error, table: false, maxBytes: MaxBytes))
        {
            case ReadOutcome.Missing:
                return new PatternFileList([], null);
            case ReadOutcome.Failed:
                // libwrap: "open %s: %m", and the pattern does not match.
                return new PatternFileList([], error!.Replace("cannot open", "open", StringComparison.Ordinal));
            case ReadOutcome.Directory:
                // libwrap opens a directory and reads nothing from it: no match (checked with libwrap). Kept, and said.
                return new PatternFileList([], $"{error}; it lists no patterns (as in libwrap)", Code: "file-type");
            case ReadOutcome.Refused:
                // libwrap would hang in open(2) on a FIFO or read a device without end (/dev/zero overflows its
                // buffer): a list that cannot be read as a file of patterns refuses access.
                return new PatternFileList([], $"{error}; a /file pattern list must be a regular file of at most {MaxBytes} bytes; access refused", Fatal: true, Code: "file-type");
        }
        return Parse(path, data);
    }

    // fscanf("%s"): tokens separated by any C white space, one file or many lines.
    private static PatternFileList Parse(string path, byte[] data)
    {
        var patterns = new List<HostPattern>();
        string? notice = null;
        var line = 1;
        var i = 0;
        while (i < data.Length)
        {
            for (; i < data.Length && IsSpace(data[i]); i++)
                line += data[i] == (byte)'\n' ? 1 : 0;
            var start = i;
            while (i < data.Length && !IsSpace(data[i]))
                i++;
            var token = data.AsSpan(start, i - start);
            // fscanf("%s") stores NUL bytes as any other: the whole token counts against libwrap's buffer.
            if (token.Length >= TokenBuffer)
                return new PatternFileList([], $"{path}:{line}: a pattern of {token.Length} bytes{(token.Contains((byte)0) ? " (with NUL bytes)" : "")}, longer than libwrap's {TokenBuffer - 1} (libwrap would crash); access refused", Fatal: true, Code: "file-token");
            // The pattern ends at a NUL byte, as the C string fscanf() stored does (checked with libwrap: no match, no crash).
            var nul = token.IndexOf((byte)0);
            if (nul >= 0)
            {
                token = token[..nul];
                notice ??= $"{path}:{line}: a NUL byte ends the pattern there, as in libwrap; the rest of that pattern is ignored";
            }
            if (token.Length > 0)
                patterns.Add(HostPattern.Compile(Latin1(token)));
        }
        return new PatternFileList([.. patterns], notice, Code: "file-nul");
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    internal static string Latin1(ReadOnlySpan<byte> bytes) => System.Text.Encoding.Latin1.GetString(bytes);
}
