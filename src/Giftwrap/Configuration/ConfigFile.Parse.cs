// ConfigFile's reading of the lines and the overrides, and the check of each value against
// its declaration. A section that is unknown or malformed reports one error; its keys are
// not checked one by one (they would only repeat it) and never reach a command.
using System.Globalization;

namespace Giftwrap.Configuration;

internal sealed partial class ConfigFile
{
    private void Parse(IReadOnlyList<string> lines)
    {
        ConfigSectionData? section = null;
        var lost = false; // under a header that was refused: its keys belong nowhere
        for (var i = 0; i < lines.Count; i++)
        {
            var raw = i == 0 ? lines[i].TrimStart('\uFEFF') : lines[i];
            var text = StripComment(raw);
            var start = text.Length - text.TrimStart().Length;
            var line = text.Trim();
            if (line.Length == 0)
                continue;
            var at = new ConfigSource(Path, i + 1, start + 1);
            if (line.StartsWith('['))
            {
                section = Header(line, at);
                lost = section is null;
                continue;
            }
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                Errors.Add($"{at}: \"{line}\" is not key = value");
                continue;
            }
            var key = line[..eq].Trim();
            var valueStart = eq + 1 + (line.Length - eq - 1 - line[(eq + 1)..].TrimStart().Length);
            var value = line[(eq + 1)..].Trim();
            if (key.Length == 0)
                Errors.Add($"{at}: \"= {value}\" has no key before the \"=\"");
            else if (section is null && !lost)
                Errors.Add($"{at}: \"{key}\" comes before any [section]");
            else if (section is not null)
                Set(section, key, value, at, at with { Column = start + valueStart + 1 });
        }
    }

    private ConfigSectionData? Header(string line, ConfigSource at)
    {
        if (!line.EndsWith(']') || line.Length < 3 || line.IndexOf(']', StringComparison.Ordinal) != line.Length - 1)
        {
            Errors.Add($"{at}: malformed section header \"{line}\" (write [name])");
            return null;
        }
        var name = line[1..^1].Trim();
        if (SectionFor(name, at.ToString()) is not { } declared)
            return null;
        if (Section(name) is { } earlier)
        {
            // Two halves of one section are usually a paste gone wrong: the second half would
            // silently override the first.
            Errors.Add($"{at}: section [{name}] appears twice (first at line {earlier.Header.Line.ToString(CultureInfo.InvariantCulture)}): merge them");
            return null;
        }
        var data = new ConfigSectionData(declared.Labelled ? $"{declared.Name}:{name[(name.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()}" : declared.Name, at);
        _sections.Add(data);
        return data;
    }

    /// <summary>The declaration of a section name (service:web is the labelled section service), or null with an error.</summary>
    private ConfigSchemaSectionResult? SectionFor(string name, string where)
    {
        var colon = name.IndexOf(':', StringComparison.Ordinal);
        var kind = (colon < 0 ? name : name[..colon]).Trim();
        var declared = ConfigSchema.Section(kind);
        if (declared is null)
        {
            var near = ConfigSchema.Nearest(kind, ConfigSchema.Sections.Select(s => s.Name));
            var hint = near is null ? "" : $" (did you mean [{near}{(colon < 0 ? "" : name[colon..])}]?)";
            Errors.Add($"{where}: unknown section [{name}]{hint}; the sections are {string.Join(", ", ConfigSchema.Sections.Select(s => s.Labelled ? $"[{s.Name}:NAME]" : $"[{s.Name}]"))}");
            return null;
        }
        if (declared.Labelled && (colon < 0 || name[(colon + 1)..].Trim().Length == 0))
        {
            Errors.Add($"{where}: [{name}] needs a name: [{declared.Name}:NAME]");
            return null;
        }
        if (!declared.Labelled && colon >= 0)
        {
            Errors.Add($"{where}: [{name}]: [{declared.Name}] takes no name after a colon");
            return null;
        }
        return new ConfigSchemaSectionResult(declared.Name, declared.Labelled);
    }

    private sealed record ConfigSchemaSectionResult(string Name, bool Labelled);

    private void Set(ConfigSectionData section, string key, string value, ConfigSource keyAt, ConfigSource valueAt)
    {
        var kind = section.Name.Split(':')[0];
        var declared = ConfigSchema.Section(kind)!;
        if (declared.Key(key) is not { } k)
        {
            var near = ConfigSchema.Nearest(key, declared.Keys.Select(x => x.Name));
            var hint = near is null ? "" : $" (did you mean {near}?)";
            Errors.Add($"{keyAt}: unknown key \"{key}\" in [{section.Name}]{hint}; its keys are {string.Join(", ", declared.Keys.Select(x => x.Name))}");
            return;
        }
        if (keyAt.Override is null && section.Entries.TryGetValue(k.Name, out var earlier) && earlier.Source.Override is null)
        {
            Errors.Add($"{keyAt}: {k.Name} is set twice in [{section.Name}] (first at line {earlier.Source.Line.ToString(CultureInfo.InvariantCulture)})");
            return;
        }
        if (Check(k, value) is { } problem)
            Errors.Add($"{valueAt}: {k.Name} = {value}: {problem}");
        section.Entries[k.Name] = new ConfigEntry(k.Name, value, valueAt);
    }

    private void Override(ConfigOverride o)
    {
        var at = new ConfigSource(Path, 0, 0, o.Origin);
        var path = o.Path.Trim();
        var colon = path.LastIndexOf(':');
        if (colon <= 0 || colon == path.Length - 1)
        {
            Errors.Add($"{at}: \"{o.Path}\" is not section:key");
            return;
        }
        var name = path[..colon];
        if (SectionFor(name, at.ToString()) is not { } declared)
            return;
        var full = declared.Labelled ? $"{declared.Name}:{name[(name.IndexOf(':', StringComparison.Ordinal) + 1)..]}" : declared.Name;
        var section = Section(full);
        if (section is null)
        {
            section = new ConfigSectionData(full, at);
            _sections.Add(section);
        }
        Set(section, path[(colon + 1)..], o.Value.Trim(), at, at);
    }

    /// <summary>Why <paramref name="value"/> is not a value of <paramref name="key"/>, or null when it is.</summary>
    private static string? Check(ConfigKey key, string value)
    {
        if (value.Length == 0)
            return "no value (give one, or remove the line for the default)";
        // A NUL byte would end a path or a name where the C library reads it (a different file than the one
        // written), and .NET refuses it outright once the value is used: a value with one is no value at all.
        if (value.Contains('\0', StringComparison.Ordinal))
            return "contains a NUL byte (remove it)";
        switch (key.Kind)
        {
            case ValueKind.Count:
                return long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= key.Min && n <= key.Max
                    ? null : $"must be a whole number from {key.Min.ToString(CultureInfo.InvariantCulture)} to {key.Max.ToString(CultureInfo.InvariantCulture)}";
            case ValueKind.Number:
                return double.TryParse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var d) && d >= key.Min && d <= key.Max
                    ? null : $"must be a number from {key.Min.ToString(CultureInfo.InvariantCulture)} to {key.Max.ToString(CultureInfo.InvariantCulture)}";
            case ValueKind.Duration:
                return Configuration.Duration.TryParse(value, out _) ? null : $"must be {Configuration.Duration.Forms}";
            case ValueKind.Size:
                return TrySize(value, out _) ? null : "must be a size such as 500K, 10M or 1G";
            case ValueKind.YesNo:
                return TryYesNo(value, out _) ? null : "must be yes or no";
            case ValueKind.Address:
                return EndPointText.TryParse(value, key.DefaultPort, out _, out var error) ? null : error;
            case ValueKind.Addresses:
                return string.Join("; ", Split(value).Select(p => EndPointText.TryParse(p, 0, out _, out var e) ? null : e).OfType<string>()) is { Length: > 0 } all ? all : null;
            case ValueKind.ListenAddresses:
                return string.Join("; ", Split(value).Select(p => EndPointText.TryParse(WithoutProtocol(p, out _), 0, out _, out var e) ? null : e).OfType<string>()) is { Length: > 0 } listen ? listen : null;
            default:
                return null;
        }
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
}
