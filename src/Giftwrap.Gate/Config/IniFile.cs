// A small INI reader that remembers where each key was written, so configuration
// errors can name file and line. Sections `[name]`, `key = value`, comments on
// their own line (; or #) and after a value (" ;" or " #"). The values then flow
// into Microsoft.Extensions.Configuration, where environment variables and
// command-line switches may override them.
namespace Giftwrap.Gate.Config;

internal sealed record IniValue(string Value, string File, int Line);

internal sealed class IniFile
{
    private IniFile(string path, Dictionary<string, IniValue> values, List<string> errors)
    {
        Path = path;
        Values = values;
        Errors = errors;
    }

    public string Path { get; }

    /// <summary>Keys as configuration paths (section:key, case-insensitive).</summary>
    public Dictionary<string, IniValue> Values { get; }

    public List<string> Errors { get; }

    public static IniFile Empty(string path) => new(path, new Dictionary<string, IniValue>(StringComparer.OrdinalIgnoreCase), []);

    public static IniFile Read(string path)
    {
        var values = new Dictionary<string, IniValue>(StringComparer.OrdinalIgnoreCase);
        var errors = new List<string>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            errors.Add($"{path}: cannot read: {ex.Message}");
            return new IniFile(path, values, errors);
        }
        string? section = null;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = StripComment(lines[i]).Trim();
            if (line.Length == 0)
                continue;
            var where = $"{path}:{i + 1}";
            if (line.StartsWith('['))
            {
                if (!line.EndsWith(']') || line.Length < 3)
                    errors.Add($"{where}: bad section header \"{line}\"");
                else
                    section = line[1..^1].Trim();
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                errors.Add($"{where}: expected key = value, found \"{line}\"");
                continue;
            }
            if (section is null)
            {
                errors.Add($"{where}: \"{line[..eq].Trim()}\" is outside any [section]");
                continue;
            }
            var key = $"{section}:{line[..eq].Trim()}";
            if (values.TryGetValue(key, out var earlier))
                errors.Add($"{where}: {key} is set twice (also at line {earlier.Line})");
            values[key] = new IniValue(line[(eq + 1)..].Trim(), path, i + 1);
        }
        return new IniFile(path, values, errors);
    }

    private static string StripComment(string line)
    {
        var t = line.TrimStart();
        if (t.StartsWith(';') || t.StartsWith('#'))
            return "";
        for (var i = 1; i < line.Length; i++)
        {
            if ((line[i] == ';' || line[i] == '#') && char.IsWhiteSpace(line[i - 1]))
                return line[..i];
        }
        return line;
    }

    /// <summary>Where a key was written, for error messages ("file:line"), or the file alone.</summary>
    public string Where(string key) => Values.TryGetValue(key, out var v) ? $"{v.File}:{v.Line}" : Path;
}
