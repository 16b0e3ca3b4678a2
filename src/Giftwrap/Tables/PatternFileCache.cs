// /path pattern files, read and compiled on first use and kept until the file
// changes. libwrap re-reads the file each time the pattern is evaluated; the
// owner of the cache (AccessTables) drops an entry when its file changes.
using System.Collections.Concurrent;
using Giftwrap.Patterns;

namespace Giftwrap.Tables;

/// <summary>A compiled pattern file; <paramref name="Fatal"/> means libwrap would crash on it, so access is refused.</summary>
internal sealed record PatternFileList(HostPattern[] Patterns, string? Error, bool Fatal = false);

internal sealed class PatternFileCache(Action<string>? track)
{
    public static readonly PatternFileCache Empty = new(null);

    private readonly ConcurrentDictionary<string, PatternFileList> _files = new(StringComparer.Ordinal);

    public PatternFileList Get(string path)
    {
        if (_files.TryGetValue(path, out var list))
            return list;
        track?.Invoke(path);
        list = Load(path);
        return track is null ? list : _files.GetOrAdd(path, list);
    }

    public void Invalidate(string path) => _files.TryRemove(path, out _);

    public void Clear() => _files.Clear();

    public IEnumerable<string> Paths => _files.Keys;

    private static PatternFileList Load(string path)
    {
        switch (TableFile.TryRead(path, out var data, out var error))
        {
            case ReadOutcome.Missing:
                return new PatternFileList([], null);
            case ReadOutcome.Failed:
                // libwrap: "open %s: %m", and the pattern does not match.
                return new PatternFileList([], error!.Replace("cannot open", "open", StringComparison.Ordinal));
        }
        // fscanf("%s"): tokens separated by any C white space, one file or many lines.
        var patterns = new List<HostPattern>();
        var i = 0;
        while (i < data.Length)
        {
            while (i < data.Length && IsSpace(data[i]))
                i++;
            var start = i;
            while (i < data.Length && !IsSpace(data[i]))
                i++;
            // The token ends at a NUL byte, as the C string fscanf() stored does.
            var token = data.AsSpan(start, i - start);
            var nul = token.IndexOf((byte)0);
            if (nul >= 0)
                token = token[..nul];
            // fscanf("%s") into an 8 KB buffer: a longer token overflows it and libwrap dies.
            if (token.Length >= 8192)
                return new PatternFileList([], $"{path}: a pattern longer than 8191 bytes (libwrap would crash); access refused", Fatal: true);
            if (token.Length > 0)
                patterns.Add(HostPattern.Compile(Latin1(token)));
        }
        return new PatternFileList([.. patterns], null);
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    internal static string Latin1(ReadOnlySpan<byte> bytes) => System.Text.Encoding.Latin1.GetString(bytes);
}
