// Giftwrap.Cli as a .NET tool: the package says it is one, names the `giftwrap` command,
// is framework-dependent (PublishAot notwithstanding), and installs and runs from a folder.
using System.Xml.Linq;

namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class ToolPackageTests(PackagingFixture fixture)
{
    private string ToolPackage => Path.Combine(fixture.Packages, $"Giftwrap.Cli.{fixture.Version}.nupkg");

    [Fact]
    public void ToolPackage_DeclaresTheGiftwrapCommand()
    {
        using var package = new NuGetPackage(ToolPackage);
        var types = package.Nuspec.Descendants().Where(e => e.Name.LocalName == "packageType").Select(e => (string?)e.Attribute("name"));
        Assert.Contains("DotnetTool", types);
        var settings = XDocument.Parse(package.ReadText("tools/net10.0/any/DotnetToolSettings.xml"));
        var command = Assert.Single(settings.Descendants("Command"));
        Assert.Equal("giftwrap", (string?)command.Attribute("Name"));
        Assert.Equal("giftwrap.dll", (string?)command.Attribute("EntryPoint"));
        Assert.Equal("dotnet", (string?)command.Attribute("Runner"));
        Assert.True(package.Has("tools/net10.0/any/giftwrap.dll"));
        Assert.True(package.Has("tools/net10.0/any/Giftwrap.Core.dll"));
        // A tool brings its dependencies inside: the nuspec lists none.
        Assert.Empty(package.Dependencies);
        // Framework-dependent: no native image, no runtime-specific folder.
        Assert.DoesNotContain(package.Files, f => f.StartsWith("tools/net10.0/linux-", StringComparison.Ordinal) || f.EndsWith("/giftwrap", StringComparison.Ordinal));
    }

    [Fact]
    public void ToolPackage_InstallsFromAFolder_AndRuns()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-tool-").FullName;
        try
        {
            // Only the folder of packages: the tool must not come from any feed by that name.
            var config = Path.Combine(dir, "nuget.config");
            new XDocument(new XElement("configuration", new XElement("packageSources",
                new XElement("clear"),
                new XElement("add", new XAttribute("key", "local"), new XAttribute("value", fixture.Packages))))).Save(config);
            var tools = Path.Combine(dir, "tools");
            Run.Program("dotnet", ["tool", "install", "--tool-path", tools, "--configfile", config, "--add-source", fixture.Packages,
                "Giftwrap.Cli", "--version", fixture.Version], dir, PackagingFixture.BuildEnvironment).Succeeded();
            var giftwrap = Path.Combine(tools, "giftwrap");
            Assert.True(File.Exists(giftwrap), $"dotnet tool install made no {giftwrap}");
            var examples = Path.Combine(fixture.Source, "examples");
            var check = Run.Program(giftwrap, ["check", "--allow", Path.Combine(examples, "hosts.allow"), "--deny", Path.Combine(examples, "hosts.deny")], dir);
            Assert.Equal(0, check.ExitCode);
            Assert.Contains("0 error(s)", check.Stdout);
            var match = Run.Program(giftwrap, ["match", "-d", "sshd", "192.168.10.25"], examples);
            Assert.Equal(0, match.ExitCode);
            Assert.Contains("access:   granted", match.Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
