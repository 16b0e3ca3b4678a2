// /path pattern files, read and compiled with the tables that name them and kept
// until the file changes. libwrap re-reads the file each time the pattern is
// evaluated; the owner (AccessTables) builds a new set when a list's file changes.
// SECURITY: read on a decision's path, so TableFile's rules hold (non-blocking open,
// regular files only, bounded size); what libwrap would crash or hang on (a token
// longer than its buffer, /dev/zero, a FIFO) refuses access with the place named.
using Giftwrap.Patterns;

namespace Giftwrap.Tables;

/// <summary>
/// The /file lists of one snapshot of the tables, read when the tables were compiled and never changed
/// after: a changed list gives a new snapshot (see <see cref="AccessTables"/>), so evaluation reads them
/// from any thread without a lock.
/// </summary>
internal sealed class PatternFileCache
{
    public static readonly PatternFileCache Empty = new(new Dictionary<string, Entry>(StringComparer.Ordinal));

    /// <summary>fscanf("%s") into libwrap's char tok[BUFSIZ]: a token this long or longer overflows it.</summary>
    internal const int TokenBuffer = 8192;

    /// <summary>The largest pattern file read: a list of a million addresses fits well within it.</summary>
    internal const long MaxBytes = 64L * 1024 * 1024;

    // A list with the paths it was read through (itself and, for a link, its targets).
    private readonly record struct Entry(PatternFileList List, string[] Dependencies);

    private readonly Dictionary<string, Entry> _lists;
    // Tables read once (tcpd mode, the command line): each list is read when first evaluated and kept.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, PatternFileList>? _once;

    private PatternFileCache(Dictionary<string, Entry> lists, bool once = false)
    {
        _lists = lists;
        _once = once ? new(StringComparer.Ordinal) : null;
    }

    /// <summary>For tables that are not followed: lists are read on first use (as libwrap reads them only when evaluated) and kept.</summary>
    public static PatternFileCache ReadOnce() => new([], once: true);

    /// <summary>The list at <paramref name="path"/> as compiled; one not registered (none of the tables') is read now, as libwrap does.</summary>
    public PatternFileList Get(string path)
    {
        if (_lists.TryGetValue(path, out var e))
            return e.List;
        return _once is null ? Load(path) : _once.GetOrAdd(path, Load);
    }

    /// <summary>
    /// The lists <paramref name="roots"/> name, and the lists those name in turn (to the nesting evaluation
    /// allows), each registered with <paramref name="track"/> before it is read. A list of
    /// <paramref name="previous"/> none of whose paths is in <paramref name="changed"/> is kept as it was.
    /// </summary>
    public static PatternFileCache Build(IEnumerable<string> roots, PatternFileCache? previous, IReadOnlySet<string>? changed, Func<string, string[]> track)
    {
        var lists = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var next = new List<(string Path, int Depth)>();
        foreach (var root in roots)
            next.Add((root, 0));
        for (var i = 0; i < next.Count; i++)
        {
            var (path, depth) = next[i];
            if (depth >= FilePattern.MaxDepth || lists.ContainsKey(path))
                continue;
            if (previous is null || !previous._lists.TryGetValue(path, out var entry) || (changed is not null && Array.Exists(entry.Dependencies, changed.Contains)))
            {
                // Watched before it is read, so a change made after the read is always seen.
                var deps = track(path);
                entry = new Entry(Load(path), deps);
            }
            lists[path] = entry;
            foreach (var list in entry.List.FileLists)
                next.Add((list, depth + 1));
        }
        return new PatternFileCache(lists);
    }

    private static PatternFileList Load(string path)
    {
        switch (TableFile.TryRead(path, out var data, out var error, table: false, maxBytes: MaxBytes))
        {
            case ReadOutcome.Missing:
                return new PatternFileList(null);
            case ReadOutcome.Failed:
                // libwrap: "open %s: %m", and the pattern does not match.
                return new PatternFileList(error!.Replace("cannot open", "open", StringComparison.Ordinal));
            case ReadOutcome.Directory:
                // libwrap opens a directory and reads nothing from it: no match (checked with libwrap). Kept, and said.
                return new PatternFileList($"{error}; it lists no patterns (as in libwrap)", code: "file-type");
            case ReadOutcome.Refused:
                // libwrap would hang in open(2) on a FIFO or read a device without end (/dev/zero overflows its
                // buffer): a list that cannot be read as a file of patterns refuses access.
                return new PatternFileList($"{error}; a /file pattern list must be a regular file of at most {MaxBytes} bytes; access refused", fatal: true, code: "file-type");
        }
        return Parse(path, data);
    }

    // fscanf("%s"): tokens separated by any C white space, one file or many lines.
    private static PatternFileList Parse(string path, byte[] data)
    {
        // Each word and its end fit in the bytes that held it and the space after it.
        var patterns = new PatternFileList.Builder(data.Length + 1);
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
                return new PatternFileList($"{path}:{line}: a pattern of {token.Length} bytes{(token.Contains((byte)0) ? " (with NUL bytes)" : "")}, longer than libwrap's {TokenBuffer - 1} (libwrap would crash); access refused", fatal: true, code: "file-token");
            // The pattern ends at a NUL byte, as the C string fscanf() stored does (checked with libwrap: no match, no crash).
            var nul = token.IndexOf((byte)0);
            if (nul >= 0)
            {
                token = token[..nul];
                notice ??= $"{path}:{line}: a NUL byte ends the pattern there, as in libwrap; the rest of that pattern is ignored";
            }
            if (token.Length > 0)
                patterns.Add(token);
        }
        return patterns.Build(notice, "file-nul");
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    internal static string Latin1(ReadOnlySpan<byte> bytes) => System.Text.Encoding.Latin1.GetString(bytes);
}
