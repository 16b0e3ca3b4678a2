// Settings given outside the file, in Microsoft.Extensions.Configuration's spelling:
// GIFTWRAP_section__key environment variables and --section:key=value switches (the
// switch wins). Each keeps the name of the variable or switch that set it, so an error
// in an override names the override, never a line of the file it did not come from.
using System.Collections;

namespace Giftwrap.Configuration;

/// <summary>One overriding setting: the path (section:key, or service:NAME:key), the value, and what set it.</summary>
internal sealed record ConfigOverride(string Path, string Value, string Origin)
{
    private const string Prefix = "GIFTWRAP_";

    /// <summary>
    /// The GIFTWRAP_section__key variables of <paramref name="environment"/> (the process's when null).
    /// Variables without "__" (GIFTWRAP_DAEMON_DIR) are not configuration keys and are left alone.
    /// </summary>
    public static List<ConfigOverride> FromEnvironment(IDictionary? environment = null)
    {
        var list = new List<ConfigOverride>();
        foreach (DictionaryEntry e in environment ?? Environment.GetEnvironmentVariables())
        {
            if (e.Key is string name && name.StartsWith(Prefix, StringComparison.Ordinal) && name.Contains("__", StringComparison.Ordinal))
                list.Add(new ConfigOverride(name[Prefix.Length..].Replace("__", ":", StringComparison.Ordinal), e.Value as string ?? "", $"environment variable {name}"));
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Origin, b.Origin));
        return list;
    }

    /// <summary>
    /// Reads --section:key=value (or --section:key value) switches. Anything else is a usage
    /// error in <paramref name="usageErrors"/>: an unknown switch is never silently ignored.
    /// </summary>
    public static List<ConfigOverride> FromSwitches(IReadOnlyList<string> tokens, List<string> usageErrors)
    {
        var list = new List<ConfigOverride>();
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            var body = token.StartsWith("--", StringComparison.Ordinal) ? token[2..] : null;
            if (body is null || !body.Contains(':', StringComparison.Ordinal))
            {
                usageErrors.Add(token.StartsWith('-')
                    ? $"unknown option {token} (settings are written --section:key=value; see --help)"
                    : $"unexpected argument \"{token}\" (see --help)");
                continue;
            }
            var eq = body.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                list.Add(new ConfigOverride(body[..eq], body[(eq + 1)..], $"switch {token}"));
            }
            else if (i + 1 < tokens.Count && !tokens[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                list.Add(new ConfigOverride(body, tokens[i + 1], $"switch {token} {tokens[i + 1]}"));
                i++;
            }
            else
            {
                usageErrors.Add($"{token} needs a value: {token}=VALUE");
            }
        }
        return list;
    }
}
