// The arrows between the assemblies point one way, read from the .csproj files under src/: each
// project references only the Giftwrap projects its row below allows, Redis and the ASP.NET Core
// framework only where declared, and no library reaches the gate or the CLI. A new project must
// get a row. The picture is docs/design/assemblies.md; the NuGet packages' own dependencies are
// checked by NuGetPackageTests.
using System.Xml.Linq;

namespace Giftwrap.Packaging.Tests;

public sealed class DependencyDirectionTests
{
    /// <summary>What each project under src/ may reference directly, of the repository's projects.</summary>
    private static readonly Dictionary<string, string[]> Allowed = new(StringComparer.Ordinal)
    {
        ["Giftwrap"] = [],
        ["Giftwrap.Net"] = ["Giftwrap"],
        ["Giftwrap.Hosting"] = ["Giftwrap", "Giftwrap.Net"],
        ["Giftwrap.Bans"] = ["Giftwrap"],
        ["Giftwrap.Bans.Redis"] = ["Giftwrap.Bans"],
        ["Giftwrap.Bans.CrowdSec"] = ["Giftwrap.Bans"],
        ["Giftwrap.Kernel"] = ["Giftwrap", "Giftwrap.Bans"],
        ["Giftwrap.AspNetCore"] = ["Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting"],
        ["Giftwrap.AspNetCore.Bans"] = ["Giftwrap.AspNetCore", "Giftwrap.Bans"],
        ["Giftwrap.AspNetCore.Redis"] = ["Giftwrap.AspNetCore.Bans", "Giftwrap.Bans.Redis"],
        ["Giftwrap.Gate"] = ["Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting", "Giftwrap.Bans"],
        // The programs: tcpd mode is the gate's, the CLI puts everything together.
        ["Giftwrap.Tcpd"] = ["Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting", "Giftwrap.Gate"],
        ["Giftwrap.Cli"] = ["Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting", "Giftwrap.Gate", "Giftwrap.Bans", "Giftwrap.Bans.Redis", "Giftwrap.Bans.CrowdSec", "Giftwrap.Kernel"],
    };

    /// <summary>The projects that may pull in StackExchange.Redis, directly or through a reference.</summary>
    private static readonly string[] MayUseRedis = ["Giftwrap.Bans.Redis", "Giftwrap.AspNetCore.Redis", "Giftwrap.Cli"];

    private static readonly Dictionary<string, Project> Projects = ReadProjects();

    [Fact]
    public void EveryProject_HasARow()
    {
        var missing = Projects.Keys.Where(p => !Allowed.ContainsKey(p)).ToList();
        Assert.True(missing.Count == 0, $"no row in DependencyDirectionTests.Allowed for {string.Join(", ", missing)}: say what it may reference");
    }

    [Fact]
    public void EveryProject_ReferencesOnlyWhatItsRowAllows()
    {
        var wrong = Projects.Values.Where(p => Allowed.ContainsKey(p.Name))
            .SelectMany(p => p.References.Where(r => !Allowed[p.Name].Contains(r)).Select(r => $"{p.Name} -> {r}"))
            .ToList();
        Assert.True(wrong.Count == 0, "references against the direction: " + string.Join(", ", wrong));
    }

    [Fact]
    public void Core_ReferencesNothing()
    {
        var core = Projects["Giftwrap"];
        Assert.Empty(core.References);
        Assert.Empty(core.Packages);
        Assert.Empty(core.Frameworks);
    }

    [Theory]
    [InlineData("Giftwrap.Net", new[] { "Giftwrap" })]
    [InlineData("Giftwrap.Hosting", new[] { "Giftwrap", "Giftwrap.Net" })]
    [InlineData("Giftwrap.AspNetCore", new[] { "Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting" })]
    public void Library_AllItPullsIn_IsWithin(string project, string[] within)
    {
        var pulled = Closure(project);
        Assert.True(pulled.IsSubsetOf(within), $"{project} pulls in {string.Join(", ", pulled.Except(within))}");
    }

    [Fact]
    public void NoLibrary_ReachesTheGateOrTheCli()
    {
        var programs = new[] { "Giftwrap.Cli", "Giftwrap.Tcpd" };
        var wrong = Projects.Keys.Where(p => !programs.Contains(p))
            .SelectMany(p => Closure(p).Where(r => r is "Giftwrap.Gate" or "Giftwrap.Cli" or "Giftwrap.Tcpd").Select(r => $"{p} -> {r}"))
            .ToList();
        Assert.True(wrong.Count == 0, string.Join(", ", wrong));
    }

    [Fact]
    public void Redis_OnlyWhereDeclared()
    {
        var direct = Projects.Values.Where(p => p.Packages.Contains("StackExchange.Redis")).Select(p => p.Name).ToList();
        Assert.Equal(["Giftwrap.Bans.Redis"], direct);
        var pulling = Projects.Keys.Where(p => Closure(p).Contains("Giftwrap.Bans.Redis")).ToList();
        Assert.True(pulling.All(MayUseRedis.Contains), "Redis reaches " + string.Join(", ", pulling.Except(MayUseRedis)));
    }

    [Fact]
    public void AspNetCoreFramework_OnlyInTheKestrelPackages()
    {
        var with = Projects.Values.Where(p => p.Frameworks.Count > 0).ToList();
        Assert.All(with, p => Assert.StartsWith("Giftwrap.AspNetCore", p.Name, StringComparison.Ordinal));
        Assert.All(with, p => Assert.Equal(["Microsoft.AspNetCore.App"], p.Frameworks));
        Assert.Equal(["Microsoft.AspNetCore.App"], Projects["Giftwrap.AspNetCore"].Frameworks);
    }

    /// <summary>Every repository project <paramref name="name"/> reaches through its references.</summary>
    private static HashSet<string> Closure(string name)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var next = new Stack<string>(Projects[name].References);
        while (next.TryPop(out var r))
        {
            if (seen.Add(r) && Projects.TryGetValue(r, out var project))
            {
                foreach (var further in project.References)
                    next.Push(further);
            }
        }
        return seen;
    }

    private sealed record Project(string Name, IReadOnlyList<string> References, IReadOnlyList<string> Packages, IReadOnlyList<string> Frameworks);

    private static Dictionary<string, Project> ReadProjects()
    {
        var src = Path.Combine(FindRepository(), "src");
        return Directory.GetFiles(src, "*.csproj", SearchOption.AllDirectories).Select(path =>
        {
            var xml = XDocument.Load(path);
            List<string> Includes(string item) =>
                [.. xml.Descendants(item).Select(e => (string?)e.Attribute("Include")).OfType<string>()];
            return new Project(
                Path.GetFileNameWithoutExtension(path),
                [.. Includes("ProjectReference").Select(r => Path.GetFileNameWithoutExtension(r.Replace('\\', '/')))],
                Includes("PackageReference"),
                Includes("FrameworkReference"));
        }).ToDictionary(p => p.Name, StringComparer.Ordinal);
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Giftwrap.slnx")))
                return dir.FullName;
        }
        throw new InvalidOperationException($"no Giftwrap.slnx above {AppContext.BaseDirectory}");
    }
}
