// The NuGet packages of every project under src/: metadata, README, license, tags,
// repository and commit, dependencies, symbols with SourceLink and CI-mapped paths.
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text;
using System.Text.Json;
using System.Xml.Linq;

namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class NuGetPackageTests(PackagingFixture fixture)
{
    private static readonly Guid SourceLinkKind = new("CC110556-A091-4D38-9FEC-25AB9A351A6A");
    private static readonly string[] CommonTags = ["tcpwrappers", "hosts.allow", "hosts.deny", "access-control"];

    private string PackagePath(string id, string extension = "nupkg") =>
        Path.Combine(fixture.Packages, $"{id}.{fixture.Version}.{extension}");

    [Fact]
    public void Pack_EveryLibraryAndTheTool_AndNothingElse()
    {
        var made = Directory.GetFiles(fixture.Packages, "*.nupkg").Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        var expected = fixture.Projects.Where(p => p.ShouldPack)
            .Select(p => $"{p.PackageId}.{fixture.Version}.nupkg").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, made);
        foreach (var id in new[] { "Giftwrap", "Giftwrap.Net", "Giftwrap.Gate", "Giftwrap.Bans", "Giftwrap.Bans.Redis", "Giftwrap.Cli", "Giftwrap.AspNetCore", "Giftwrap.AspNetCore.Bans", "Giftwrap.AspNetCore.Redis" })
            Assert.Contains($"{id}.{fixture.Version}.nupkg", made);
    }

    [Fact]
    public void EveryPackage_HasItsMetadata()
    {
        var problems = new List<string>();
        foreach (var project in fixture.Projects.Where(p => p.ShouldPack))
            problems.AddRange(MetadataProblems(project));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private IEnumerable<string> MetadataProblems(SourceProject project)
    {
        using var package = new NuGetPackage(PackagePath(project.PackageId));
        var id = project.PackageId;
        if (package.Metadata("id") != id)
            yield return $"{id}: id is {package.Metadata("id")}";
        if (package.Metadata("version") != fixture.Version)
            yield return $"{id}: version is {package.Metadata("version")}";
        if (package.Metadata("authors") != "The Giftwrap developers")
            yield return $"{id}: authors are {package.Metadata("authors")}";
        var description = package.Metadata("description");
        if (string.IsNullOrWhiteSpace(description) || description == "Package Description" || description != project.Description)
            yield return $"{id}: description \"{description}\" is not the project's own";
        if (package.MetadataElement("license") is not { } license || (string?)license.Attribute("type") != "expression" || license.Value != "MIT")
            yield return $"{id}: license is not the MIT expression";
        if (!package.Has("LICENSE") || package.ReadText("LICENSE") != File.ReadAllText(Path.Combine(fixture.Source, "LICENSE")))
            yield return $"{id}: LICENSE is missing or not the repository's";
        // The project's own README when it has one, else the repository's.
        var readme = File.Exists(Path.Combine(project.Directory, "README.md"))
            ? Path.Combine(project.Directory, "README.md") : Path.Combine(fixture.Source, "README.md");
        if (package.Metadata("readme") != "README.md" || !package.Has("README.md") || package.ReadText("README.md") != File.ReadAllText(readme))
            yield return $"{id}: README.md is missing or not {Path.GetRelativePath(fixture.Source, readme)}";
        var tags = (package.Metadata("tags") ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        foreach (var tag in CommonTags.Where(t => !tags.Contains(t)))
            yield return $"{id}: tag {tag} is missing";
        if (tags.Length <= CommonTags.Length)
            yield return $"{id}: no tag of its own beside the common ones";
        if (package.Metadata("projectUrl") != PackagingFixture.Upstream)
            yield return $"{id}: projectUrl is {package.Metadata("projectUrl")}";
        var repository = package.MetadataElement("repository");
        if ((string?)repository?.Attribute("type") != "git" || (string?)repository?.Attribute("url") != PackagingFixture.Upstream
            || (string?)repository?.Attribute("commit") != fixture.Commit)
        {
            yield return $"{id}: repository is {repository} (want git, {PackagingFixture.Upstream}, commit {fixture.Commit})";
        }

        if (!File.Exists(PackagePath(id, "snupkg")))
            yield return $"{id}: no symbol package (.snupkg)";
        if (!project.IsTool)
        {
            foreach (var file in new[] { $"lib/net10.0/{project.AssemblyName}.dll", $"lib/net10.0/{project.AssemblyName}.xml" })
            {
                if (!package.Has(file))
                    yield return $"{id}: {file} is missing";
            }
        }
    }

    [Theory]
    [InlineData("Giftwrap.Net", new[] { "Giftwrap" })]
    [InlineData("Giftwrap.Gate", new[] { "Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting" })]
    [InlineData("Giftwrap.Hosting", new[] { "Giftwrap" })]
    [InlineData("Giftwrap.Bans", new[] { "Giftwrap" })]
    [InlineData("Giftwrap.Bans.Redis", new[] { "Giftwrap.Bans", "StackExchange.Redis", "System.IO.Hashing" })]
    [InlineData("Giftwrap.AspNetCore", new[] { "Giftwrap", "Giftwrap.Net", "Giftwrap.Hosting" })]
    [InlineData("Giftwrap.AspNetCore.Bans", new[] { "Giftwrap.AspNetCore", "Giftwrap.Bans" })]
    [InlineData("Giftwrap.AspNetCore.Redis", new[] { "Giftwrap.AspNetCore.Bans", "Giftwrap.Bans.Redis" })]
    public void Dependencies_NameTheReferencedProjects_AtTheSameVersion(string id, string[] expected)
    {
        using var package = new NuGetPackage(PackagePath(id));
        var dependencies = package.Dependencies;
        foreach (var name in expected)
            Assert.Contains(dependencies, d => d.Id == name);
        var ours = fixture.Projects.Select(p => p.PackageId).ToHashSet();
        foreach (var (dep, version) in dependencies.Where(d => ours.Contains(d.Id)))
            Assert.True(version == fixture.Version, $"{id} depends on {dep} {version}, not {fixture.Version}");
        Assert.DoesNotContain(dependencies, d => d.Id.StartsWith("xunit", StringComparison.Ordinal) || d.Id == "Microsoft.NET.Test.Sdk");
    }

    [Fact]
    public void AspNetCore_PullsInNeitherTheGateNorBansNorRedis()
    {
        // A Kestrel user installs the core, Net and Hosting; bans and the fleet are packages of their own.
        using var package = new NuGetPackage(PackagePath("Giftwrap.AspNetCore"));
        var ids = package.Dependencies.Select(d => d.Id).ToList();
        foreach (var unwanted in new[] { "Giftwrap.Gate", "Giftwrap.Bans", "Giftwrap.Bans.Redis", "StackExchange.Redis" })
            Assert.DoesNotContain(unwanted, ids);
    }

    [Fact]
    public void Core_DependsOnNothing()
    {
        // The language and the decisions use nothing of anyone's: the arrows point one way.
        using var package = new NuGetPackage(PackagePath("Giftwrap"));
        Assert.Empty(package.Dependencies);
        Assert.True(package.Has("lib/net10.0/Giftwrap.Core.dll"));
    }

    [Fact]
    public void Symbols_CarrySourceLinkToTheCommit_AndNoMachinePaths()
    {
        var problems = new List<string>();
        foreach (var project in fixture.Projects.Where(p => p.ShouldPack && !p.IsTool))
            problems.AddRange(SymbolProblems(project));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private IEnumerable<string> SymbolProblems(SourceProject project)
    {
        var id = project.PackageId;
        using var symbols = new NuGetPackage(PackagePath(id, "snupkg"));
        using var package = new NuGetPackage(PackagePath(id));
        var pdbName = $"lib/net10.0/{project.AssemblyName}.pdb";
        if (!symbols.Has(pdbName))
        {
            yield return $"{id}: {pdbName} is not in the symbol package";
            yield break;
        }
        using var pdb = MetadataReaderProvider.FromPortablePdbStream(new MemoryStream(symbols.Read(pdbName)));
        var reader = pdb.GetMetadataReader();
        var sourceLink = reader.CustomDebugInformation.Select(reader.GetCustomDebugInformation)
            .Where(c => reader.GetGuid(c.Kind) == SourceLinkKind)
            .Select(c => Encoding.UTF8.GetString(reader.GetBlobBytes(c.Value)))
            .FirstOrDefault();
        if (sourceLink is null)
        {
            yield return $"{id}: the PDB has no SourceLink";
            yield break;
        }
        var targets = JsonDocument.Parse(sourceLink).RootElement.GetProperty("documents").EnumerateObject()
            .Select(p => p.Value.GetString()).ToList();
        var want = $"https://raw.githubusercontent.com/giftwrap/giftwrap/{fixture.Commit}/*";
        if (!targets.Contains(want))
            yield return $"{id}: SourceLink maps to {string.Join(", ", targets)}, not {want}";
        // ContinuousIntegrationBuild (CI=true): every path is mapped under /_/, none is this machine's.
        var documents = reader.Documents.Select(d => reader.GetString(reader.GetDocument(d).Name)).ToList();
        if (documents.Count == 0)
            yield return $"{id}: the PDB lists no source document";
        foreach (var doc in documents.Where(d => !d.StartsWith("/_/", StringComparison.Ordinal)))
            yield return $"{id}: source path {doc} is not mapped to /_/";
        using var pe = new PEReader(new MemoryStream(package.Read($"lib/net10.0/{project.AssemblyName}.dll")));
        var codeView = pe.ReadDebugDirectory().Single(e => e.Type == DebugDirectoryEntryType.CodeView);
        var pdbPath = pe.ReadCodeViewDebugDirectoryData(codeView).Path;
        if (!pdbPath.StartsWith("/_/", StringComparison.Ordinal))
            yield return $"{id}: the assembly names its PDB as {pdbPath}";
        if (!pe.ReadDebugDirectory().Any(e => e.IsPortableCodeView) || !pe.ReadDebugDirectory().Any(e => e.Type == DebugDirectoryEntryType.Reproducible))
            yield return $"{id}: the assembly is not marked deterministic (no Reproducible debug entry)";
    }

    [Fact]
    public void IsPackable_TrueForLibrariesAndTheTool_FalseForEveryOtherProject()
    {
        // One MSBuild run evaluates every project of the repository, with a target slipped in
        // after Microsoft.Common.targets that returns the project's IsPackable.
        var dir = Directory.CreateTempSubdirectory("giftwrap-packable-").FullName;
        try
        {
            var projects = Directory.GetFiles(fixture.Source, "*.csproj", SearchOption.AllDirectories);
            var report = Path.Combine(dir, "report.targets");
            File.WriteAllText(report, """
                <Project>
                  <Target Name="GiftwrapReportPackable" Returns="@(_GiftwrapPackable)">
                    <ItemGroup><_GiftwrapPackable Include="$(MSBuildProjectFullPath)" IsPackable="$(IsPackable)" /></ItemGroup>
                  </Target>
                </Project>
                """);
            var traversal = new XElement("Project",
                new XElement("ItemGroup", projects.Select(p => new XElement("P", new XAttribute("Include", p)))),
                new XElement("Target", new XAttribute("Name", "Report"), new XAttribute("Returns", "@(Result)"),
                    new XElement("MSBuild", new XAttribute("Projects", "@(P)"), new XAttribute("Targets", "GiftwrapReportPackable"),
                        new XAttribute("Properties", $"CustomAfterMicrosoftCommonTargets={report}"),
                        new XElement("Output", new XAttribute("TaskParameter", "TargetOutputs"), new XAttribute("ItemName", "Result")))));
            var proj = Path.Combine(dir, "report.proj");
            traversal.Save(proj);
            var r = Run.Program("dotnet", ["msbuild", proj, "-t:Report", "-getTargetResult:Report", "-nologo"], fixture.Source, PackagingFixture.BuildEnvironment)
                .Succeeded();
            var packable = JsonDocument.Parse(r.Stdout).RootElement.GetProperty("TargetResults").GetProperty("Report").GetProperty("Items")
                .EnumerateArray().ToDictionary(i => i.GetProperty("Identity").GetString()!, i => i.GetProperty("IsPackable").GetString());
            Assert.Equal(projects.Order(StringComparer.Ordinal), packable.Keys.Order(StringComparer.Ordinal));
            var shipped = fixture.Projects.Where(p => p.ShouldPack).Select(p => p.Path).ToHashSet();
            Assert.Contains(projects, p => !shipped.Contains(p));
            var wrong = packable.Where(kv => (kv.Value == "true") != shipped.Contains(kv.Key))
                .Select(kv => $"{Path.GetRelativePath(fixture.Source, kv.Key)}: IsPackable is {kv.Value}").ToList();
            Assert.True(wrong.Count == 0, string.Join("\n", wrong));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
