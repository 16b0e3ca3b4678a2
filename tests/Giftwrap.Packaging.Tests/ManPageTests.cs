// The manual pages as scripts/install.sh makes them from docs/man/*.md: they render with
// man(1) without a single groff warning, whatis can read their NAME line, and they keep
// up with the program: every command and option of `giftwrap --help`, every key the
// configuration readers know.
using System.Text.RegularExpressions;

namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed partial class ManPageTests(PackagingFixture fixture) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("giftwrap-man-").FullName;
    private bool _installed;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Page(string name)
    {
        if (!_installed)
        {
            InstallTests.Install(fixture, _root);
            _installed = true;
        }
        var section = name[^1];
        return Path.Combine(_root, "usr", "local", "share", "man", $"man{section}", name);
    }

    private static RunResult Man(string page) =>
        Run.Program("man", ["--warnings", "-l", page], Path.GetDirectoryName(page)!,
            new Dictionary<string, string?> { ["MANWIDTH"] = "80", ["LC_ALL"] = "C.UTF-8", ["MANPAGER"] = "cat", ["PAGER"] = "cat" });

    private string Rendered(string name)
    {
        var r = Man(Page(name));
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Stdout;
    }

    [Theory]
    [InlineData("giftwrap.8")]
    [InlineData("giftwrap.conf.5")]
    public void Page_RendersWithoutWarnings(string name)
    {
        var r = Man(Page(name));
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.Contains("NAME", r.Stdout);
        Assert.Contains("SEE ALSO", r.Stdout);
        var whatis = Run.Program("lexgrog", [Page(name)], _root);
        Assert.Equal(0, whatis.ExitCode);
        Assert.Contains($"\"{name[..name.LastIndexOf('.')]} - ", whatis.Stdout);
    }

    [Fact]
    public void GiftwrapPage_DocumentsEveryCommandAndOption()
    {
        var giftwrap = Path.Combine(fixture.Binaries, "giftwrap");
        var page = Rendered("giftwrap.8");
        var help = Run.Program(giftwrap, ["--help"], _root).Succeeded().Stdout;
        var commands = help[help.IndexOf("Commands:", StringComparison.Ordinal)..].Split('\n').Skip(1)
            .Select(l => CommandLine().Match(l)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
        Assert.Contains("serve", commands);
        Assert.Contains("tcpd", commands);
        var missing = new List<string>();
        foreach (var command in commands)
        {
            if (!page.Contains($"giftwrap {command}", StringComparison.Ordinal))
                missing.Add($"giftwrap {command}");
            var commandHelp = Run.Program(giftwrap, [command, "--help"], _root).Succeeded().Stdout;
            var options = commandHelp[commandHelp.IndexOf("Options:", StringComparison.Ordinal)..].Split('\n').Skip(1)
                .SelectMany(l => OptionLine().Match(l) is { Success: true } m ? OptionName().Matches(m.Groups[1].Value).Select(o => o.Value) : []);
            foreach (var option in options.Where(o => o is not ("-?" or "-h" or "--help" or "--version")))
            {
                if (!Regex.IsMatch(page, $@"(?<![\w-]){Regex.Escape(option)}(?![\w-])"))
                    missing.Add($"giftwrap {command} {option}");
            }
        }
        Assert.True(missing.Count == 0, "giftwrap(8) does not mention: " + string.Join(", ", missing));
    }

    [Fact]
    public void ConfPage_DocumentsEveryKeyTheReadersKnow()
    {
        var page = Rendered("giftwrap.conf.5");
        var keys = new SortedSet<string>(StringComparer.Ordinal);
        // Every section and key is declared once, in the configuration schema that every reader uses.
        var current = "";
        foreach (var line in File.ReadLines(Path.Combine(fixture.Source, "src", "Giftwrap", "Configuration", "ConfigSchema.cs")))
        {
            if (SchemaSection().Match(line) is { Success: true } s)
                current = s.Groups[2].Value == "true" ? $"{s.Groups[1].Value}:NAME" : s.Groups[1].Value;
            else if (SchemaKey().Match(line) is { Success: true } k)
                keys.Add($"[{current}] {k.Groups[1].Value}");
        }
        Assert.True(keys.Count >= 20, "the key finder found too few keys: " + string.Join(", ", keys));
        var missing = keys.Where(k =>
        {
            var section = k[..(k.IndexOf(']', StringComparison.Ordinal) + 1)];
            var key = k[(section.Length + 1)..];
            return !page.Contains(section, StringComparison.Ordinal) || !Regex.IsMatch(page, $@"(?m)^\s+{Regex.Escape(key)} =");
        }).ToList();
        Assert.True(missing.Count == 0, "giftwrap.conf(5) does not document: " + string.Join(", ", missing));
    }

    [Fact]
    public void Generator_RefusesBrokenSource_NamingTheLine()
    {
        var source = Path.Combine(_root, "broken.8.md");
        File.WriteAllText(source, "% BROKEN(8) | Manual\n# NAME\n:   a definition without its term\n");
        var r = Run.Program("awk", ["-f", Path.Combine(fixture.Source, "docs", "man", "md2man.awk"), source], _root);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"md2man: {source}:3: ", r.Stderr);
    }

    [GeneratedRegex(@"^  ([a-z][a-z-]*)\b")]
    private static partial Regex CommandLine();

    [GeneratedRegex(@"^  (-\S.*?)(?:\s{2,}|$)")]
    private static partial Regex OptionLine();

    [GeneratedRegex(@"(?<![\w<-])--?[A-Za-z][\w-]*|-\?")]
    private static partial Regex OptionName();

    [GeneratedRegex(@"^\s*new\(""([a-z]+)"", (true|false),")]
    private static partial Regex SchemaSection();

    [GeneratedRegex(@"^\s*new\(""([a-z_0-9]+)"", ValueKind\.")]
    private static partial Regex SchemaKey();
}
