// The one reader of giftwrap.conf, used by every command and by the fleet. It reads the
// INI form (sections, key = value, ; and # comments, also after a value when a blank
// precedes them), lays the overrides on top, and checks everything against ConfigSchema:
// an unknown section or key, a malformed header, a line without "=", a key set twice and
// a value of the wrong kind or out of range are errors, each with file:line:column (or the
// variable or switch that set it), all collected before anyone looks at a value.
// A configuration with errors is not to be used: fail closed, never fall back to a default
// in place of what the administrator meant to write.
using System.Globalization;
using System.Net;

namespace Giftwrap.Configuration;

/// <summary>Where a value came from: file:line:column, or the variable or switch that set it.</summary>
internal sealed record ConfigSource(string File, int Line, int Column, string? Override = null)
{
    public override string ToString() =>
        Override ?? $"{File}:{Line.ToString(CultureInfo.InvariantCulture)}:{Column.ToString(CultureInfo.InvariantCulture)}";
}

internal sealed record ConfigEntry(string Key, string Value, ConfigSource Source);

/// <summary>One [section] as read: where its header is and its keys.</summary>
internal sealed class ConfigSectionData(string name, ConfigSource header)
{
    public string Name { get; } = name;
    public ConfigSource Header { get; } = header;
    public Dictionary<string, ConfigEntry> Entries { get; } = new(StringComparer.OrdinalIgnoreCase);
}

internal sealed partial class ConfigFile
{
    private readonly List<ConfigSectionData> _sections = [];

    private ConfigFile(string path) => Path = path;

    public string Path { get; }

    /// <summary>False when the file does not exist (and was allowed not to).</summary>
    public bool Exists { get; private set; } = true;

    /// <summary>Every error, as "where: message"; readers of the values add theirs here too.</summary>
    public List<string> Errors { get; } = [];

    /// <summary>The sections present (file or overrides), by full name (service:ssh), in order.</summary>
    public IEnumerable<string> SectionNames => _sections.Select(s => s.Name);

    /// <summary>
    /// Reads <paramref name="path"/> and lays <paramref name="overrides"/> over it, in order (a later one wins).
    /// A missing file is an empty configuration when <paramref name="missingIsEmpty"/>, else an error.
    /// </summary>
    public static ConfigFile Read(string path, IEnumerable<ConfigOverride>? overrides = null, bool missingIsEmpty = false)
    {
        var file = new ConfigFile(path);
        if (file.Load(missingIsEmpty) is { } lines)
            file.Parse(lines);
        foreach (var o in overrides ?? [])
            file.Override(o);
        return file;
    }

    /// <summary>Reads text already in memory (tests, and a reload that checked what it read).</summary>
    public static ConfigFile Parse(string path, IReadOnlyList<string> lines, IEnumerable<ConfigOverride>? overrides = null)
    {
        var file = new ConfigFile(path);
        file.Parse(lines);
        foreach (var o in overrides ?? [])
            file.Override(o);
        return file;
    }

    /// <summary>The largest configuration read: a few kilobytes is usual, a megabyte is already absurd.</summary>
    internal const long MaxBytes = 1024 * 1024;

    private string[]? Load(bool missingIsEmpty)
    {
        if (Directory.Exists(Path))
        {
            Errors.Add($"{Path}: is a directory, not a configuration file (name the file, such as {Path.TrimEnd('/')}/giftwrap.conf)");
            return null;
        }
        switch (ReadBytes(Path, out var data, out var error))
        {
            case Tables.ReadOutcome.Missing:
                Exists = false;
                if (!missingIsEmpty)
                    Errors.Add($"{Path}: no such file (create it, see giftwrap.conf(5), or name another with --config)");
                return null;
            case Tables.ReadOutcome.Failed:
                Errors.Add(error!);
                return null;
        }
        return Lines(data);
    }

    /// <summary>
    /// The bytes of the configuration at <paramref name="path"/>, read as the tables are (Tables.TableFile): a FIFO
    /// is never waited on, a device never read without end, at most <see cref="MaxBytes"/>. A reload (SIGHUP) reads
    /// the file this way too, so a configuration swapped for /dev/zero or a FIFO neither hangs nor exhausts the gate.
    /// </summary>
    internal static Tables.ReadOutcome ReadBytes(string path, out byte[] data, out string? error)
    {
        var outcome = Tables.TableFile.TryRead(path, out data, out error, table: true, maxBytes: MaxBytes);
        if (outcome == Tables.ReadOutcome.Failed)
        {
            // TableFile says "cannot open PATH: REASON" in the C library's words.
            var reason = error!.StartsWith($"cannot open {path}: ", StringComparison.Ordinal) ? error[$"cannot open {path}: ".Length..] : error;
            error = reason == "Permission denied"
                ? $"{path}: cannot read the configuration: permission denied (run as root, or make the file readable to this user)"
                : $"{path}: cannot read the configuration: {reason}";
        }
        return outcome;
    }

    /// <summary>Text lines as File.ReadAllLines() gives them: the encoding from a byte order mark, else UTF-8.</summary>
    private static string[] Lines(byte[] data)
    {
        using var reader = new StreamReader(new MemoryStream(data), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        var lines = new List<string>();
        while (reader.ReadLine() is { } line)
            lines.Add(line);
        return [.. lines];
    }

    public ConfigSectionData? Section(string name) =>
        _sections.FirstOrDefault(s => string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase));

    public bool HasSection(string name) => Section(name) is not null;

    /// <summary>The labels of the [kind:LABEL] sections (the service names), in order.</summary>
    public IEnumerable<string> Labels(string kind) =>
        _sections.Where(s => s.Name.StartsWith(kind + ":", StringComparison.OrdinalIgnoreCase)).Select(s => s.Name[(kind.Length + 1)..]);

    /// <summary>The value as written (or overridden), or null when the key is not set.</summary>
    public string? Get(string section, string key) => Entry(section, key)?.Value;

    public ConfigEntry? Entry(string section, string key) =>
        Section(section) is { } s && s.Entries.TryGetValue(key, out var e) ? e : null;

    /// <summary>Where a key was set, else where its section starts, else the file.</summary>
    public string Where(string section, string key) =>
        Entry(section, key)?.Source.ToString() ?? Section(section)?.Header.ToString() ?? Path;

    /// <summary>Records an error about a key, at the place it was set.</summary>
    public void Error(string section, string key, string message) => Errors.Add($"{Where(section, key)}: {message}");

    private static ConfigKey Declared(string section, string key)
    {
        var colon = section.IndexOf(':', StringComparison.Ordinal);
        var kind = colon < 0 ? section : section[..colon];
        return ConfigSchema.Section(kind)?.Key(key) ?? throw new ArgumentException($"[{section}] {key} is not declared in ConfigSchema");
    }

    /// <summary>The value, or the declared default (null when there is none).</summary>
    public string? Text(string section, string key) => Get(section, key) ?? Declared(section, key).Default;

    public int Count(string section, string key) =>
        Text(section, key) is { } t && long.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? (int)n : 0;

    public double Number(string section, string key) =>
        Text(section, key) is { } t && double.TryParse(t, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var n) ? n : 0;

    public TimeSpan Duration(string section, string key) =>
        Configuration.Duration.TryParse(Text(section, key), out var d) ? d : TimeSpan.Zero;

    public long Size(string section, string key) => TrySize(Text(section, key) ?? "", out var n) ? n : 0;

    public bool YesNo(string section, string key) => TryYesNo(Text(section, key) ?? "", out var b) && b;

    /// <summary>A path, or null for off (or for no value and no default).</summary>
    public string? PathOrOff(string section, string key) =>
        Text(section, key) is { } t && !t.Equals("off", StringComparison.OrdinalIgnoreCase) ? t : null;

    public IPEndPoint? Address(string section, string key) =>
        Get(section, key) is { } t && EndPointText.TryParse(t, Declared(section, key).DefaultPort, out var ep, out _) ? ep : null;

    public IReadOnlyList<IPEndPoint> Addresses(string section, string key)
    {
        var list = new List<IPEndPoint>();
        foreach (var part in Split(Get(section, key) ?? ""))
        {
            if (EndPointText.TryParse(part, 0, out var ep, out _))
                list.Add(ep);
        }
        return list;
    }

    /// <summary>The addresses of a listen list for one protocol: <paramref name="udp"/> those written udp:ADDRESS:PORT, else the others (TCP, with or without tcp:).</summary>
    public IReadOnlyList<IPEndPoint> ListenAddresses(string section, string key, bool udp)
    {
        var list = new List<IPEndPoint>();
        foreach (var part in Split(Get(section, key) ?? ""))
        {
            if (EndPointText.TryParse(WithoutProtocol(part, out var isUdp), 0, out var ep, out _) && isUdp == udp)
                list.Add(ep);
        }
        return list;
    }

    /// <summary>A listen address without its tcp: or udp: prefix; <paramref name="udp"/> says which it had.</summary>
    internal static string WithoutProtocol(string part, out bool udp)
    {
        udp = part.StartsWith("udp:", StringComparison.Ordinal);
        return udp || part.StartsWith("tcp:", StringComparison.Ordinal) ? part[4..] : part;
    }

    /// <summary>A list value cut at blanks and commas.</summary>
    public static string[] Split(string value) => value.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries);

    internal static bool TrySize(string text, out long bytes)
    {
        bytes = 0;
        var t = text.Trim();
        if (t.Length == 0)
            return false;
        var factor = char.ToUpperInvariant(t[^1]) switch { 'K' => 1L << 10, 'M' => 1L << 20, 'G' => 1L << 30, _ => 1L };
        var digits = factor == 1 ? t : t[..^1];
        if (digits.Length is 0 or > 12 || !long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n <= 0)
            return false;
        bytes = n * factor;
        return true;
    }

    internal static bool TryYesNo(string text, out bool value)
    {
        switch (text.Trim().ToLowerInvariant())
        {
            case "yes" or "true" or "on":
                value = true;
                return true;
            case "no" or "false" or "off":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }
}
