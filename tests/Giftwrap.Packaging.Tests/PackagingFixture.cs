// Builds what the repository ships, once per test run: a snapshot of the working tree made
// into a fresh git repository whose origin is the upstream URL (so SourceLink has a GitHub
// remote and a commit), `dotnet pack` of every project under src/ with CI=true, and
// scripts/publish.sh (NativeAOT, linux-x64); the arm64 programs and the .deb files on first use.
// The tests then only look at the results.
using System.Xml.Linq;

namespace Giftwrap.Packaging.Tests;

[CollectionDefinition(Name)]
public sealed class PackagingCollection : ICollectionFixture<PackagingFixture>
{
    public const string Name = "packaging";
}

public sealed class PackagingFixture : IDisposable
{
    /// <summary>The placeholder upstream of src/Directory.Build.props.</summary>
    public const string Upstream = "https://github.com/giftwrap/giftwrap";

    public PackagingFixture()
    {
        Repository = FindRepository();
        Root = Directory.CreateTempSubdirectory("giftwrap-packaging-").FullName;
        Source = Path.Combine(Root, "source");
        Packages = Path.Combine(Root, "packages");
        Binaries = Path.Combine(Root, "binaries");
        try
        {
            CopyWorkingTree(Repository, Source);
            Commit = MakeRepository(Source);
            Version = ReadVersionPrefix(Source);
            Projects = SourceProjects(Source);
            Pack();
            Run.Program("bash", ["scripts/publish.sh", "--output", Binaries], Source, BuildEnvironment).Succeeded();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The working tree the tests were built from.</summary>
    public string Repository { get; }

    public string Root { get; }

    /// <summary>The snapshot the packages and binaries were built from.</summary>
    public string Source { get; }

    public string Packages { get; }

    public string Binaries { get; }

    /// <summary>The snapshot's commit, which SourceLink must name.</summary>
    public string Commit { get; } = "";

    /// <summary>Every project under src/, with what its .csproj says about packing.</summary>
    public IReadOnlyList<SourceProject> Projects { get; } = [];

    /// <summary>The version every package carries (VersionPrefix of src/Directory.Build.props).</summary>
    public string Version { get; } = "";

    private readonly Lock _builds = new();

    /// <summary>The NativeAOT programs for linux-arm64 (cross-compiled), published once per test run on first use.</summary>
    public string Arm64Binaries()
    {
        lock (_builds)
        {
            var output = Path.Combine(Root, "linux-arm64");
            if (!File.Exists(Path.Combine(output, "giftwrap-tcpd")))
                Run.Program("bash", ["scripts/publish.sh", "--rid", "linux-arm64", "--output", output], Source, BuildEnvironment).Succeeded();
            return output;
        }
    }

    /// <summary>giftwrap_VERSION_ARCH.deb made by scripts/deb.sh from the programs already published, once per test run.</summary>
    public string Deb(string arch)
    {
        var binaries = arch == "arm64" ? Arm64Binaries() : Binaries;
        lock (_builds)
        {
            var deb = Path.Combine(Root, "deb", $"giftwrap_{Version}_{arch}.deb");
            if (!File.Exists(deb))
                Run.Program("bash", ["scripts/deb.sh", "--output", Path.Combine(Root, "deb"), "--arch", $"{arch}={binaries}"], Source, BuildEnvironment).Succeeded();
            return deb;
        }
    }

    /// <summary>
    /// dotnet and MSBuild without build servers: a node kept alive would hold our output pipes
    /// open (and outlive the test). MSBuild variables of the surrounding `dotnet test` are dropped.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> BuildEnvironment { get; } = MakeBuildEnvironment();

    private static Dictionary<string, string?> MakeBuildEnvironment()
    {
        var env = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["CI"] = "true",
            ["MSBUILDDISABLENODEREUSE"] = "1",
            ["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0",
            ["UseSharedCompilation"] = "false",
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var key in Environment.GetEnvironmentVariables().Keys.Cast<string>())
        {
            if (key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) && !env.ContainsKey(key))
                env[key] = null;
        }
        return env;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp folder is untidy, not wrong: /tmp is cleaned by the system.
        }
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

    /// <summary>The files git would commit from the working tree (tracked and new, ignored ones left out).</summary>
    private static void CopyWorkingTree(string from, string to)
    {
        var list = Run.Program("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], from).Succeeded().Stdout;
        foreach (var relative in list.Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            var source = Path.Combine(from, relative);
            if (!File.Exists(source))
                continue; // deleted in the working tree, not yet in the index
            var target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(source, target);
            File.SetUnixFileMode(target, File.GetUnixFileMode(source));
        }
    }

    private static string MakeRepository(string dir)
    {
        string[] identity = ["-c", "user.name=Giftwrap tests", "-c", "user.email=tests@giftwrap.invalid", "-c", "commit.gpgsign=false"];
        Run.Program("git", ["init", "-q", "-b", "main"], dir).Succeeded();
        Run.Program("git", ["add", "-A"], dir).Succeeded();
        Run.Program("git", [.. identity, "commit", "-q", "-m", "snapshot"], dir).Succeeded();
        Run.Program("git", ["remote", "add", "origin", Upstream + ".git"], dir).Succeeded();
        return Run.Program("git", ["rev-parse", "HEAD"], dir).Succeeded().Stdout.Trim();
    }

    private static List<SourceProject> SourceProjects(string source) =>
        [.. Directory.GetFiles(Path.Combine(source, "src"), "*.csproj", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal)
            .Select(SourceProject.Read)];

    /// <summary>One solution of the src/ projects only: packing Giftwrap.slnx would build every test and benchmark.</summary>
    private void Pack()
    {
        var solution = Path.Combine(Source, "packages.slnx");
        new XElement("Solution", Projects.Select(p =>
            new XElement("Project", new XAttribute("Path", Path.GetRelativePath(Source, p.Path))))).Save(solution);
        Run.Program("dotnet", ["pack", solution, "-c", "Release", "-o", Packages, "--disable-build-servers", "-nologo"], Source, BuildEnvironment)
            .Succeeded();
    }

    internal static string ReadVersionPrefix(string source) =>
        XDocument.Load(Path.Combine(source, "src", "Directory.Build.props")).Descendants("VersionPrefix").Single().Value;
}

/// <summary>A project under src/ as its .csproj describes it.</summary>
public sealed record SourceProject(string Path, string PackageId, string AssemblyName, string? Description, bool IsProgram, bool IsTool)
{
    /// <summary>Libraries and .NET tools pack; a program that is not a tool (giftwrap-tcpd) does not.</summary>
    public bool ShouldPack => !IsProgram || IsTool;

    public string Directory => System.IO.Path.GetDirectoryName(Path)!;

    public static SourceProject Read(string path)
    {
        var xml = XDocument.Load(path);
        string? Value(string name) => xml.Descendants(name).Select(e => e.Value.Trim()).FirstOrDefault();
        var name = System.IO.Path.GetFileNameWithoutExtension(path);
        return new SourceProject(
            path,
            Value("PackageId") ?? name,
            Value("AssemblyName") ?? name,
            Value("Description"),
            string.Equals(Value("OutputType"), "Exe", StringComparison.OrdinalIgnoreCase),
            string.Equals(Value("PackAsTool"), "true", StringComparison.OrdinalIgnoreCase));
    }
}
