// A .nupkg or .snupkg opened as the zip it is: its files, and its nuspec read without
// regard to the nuspec schema's namespace (it changes with the features a package uses).
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;

namespace Giftwrap.Packaging.Tests;

internal sealed class NuGetPackage : IDisposable
{
    private readonly ZipArchive _zip;

    public NuGetPackage(string path)
    {
        Path = path;
        _zip = ZipFile.OpenRead(path);
        var nuspec = _zip.Entries.Single(e => !e.FullName.Contains('/', StringComparison.Ordinal) && e.Name.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspec.Open();
        Nuspec = XDocument.Load(stream);
    }

    public string Path { get; }

    public XDocument Nuspec { get; }

    public IEnumerable<string> Files => _zip.Entries.Select(e => e.FullName);

    /// <summary>The text of a metadata element (id, version, description, ...), or null.</summary>
    public string? Metadata(string name) =>
        Nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata")
            .Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    public XElement? MetadataElement(string name) =>
        Nuspec.Root!.Elements().Single(e => e.Name.LocalName == "metadata")
            .Elements().FirstOrDefault(e => e.Name.LocalName == name);

    /// <summary>(id, version) of every dependency, over all target framework groups.</summary>
    public IReadOnlyList<(string Id, string Version)> Dependencies =>
        [.. Nuspec.Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => ((string)e.Attribute("id")!, (string)e.Attribute("version")!))];

    public bool Has(string file) => _zip.GetEntry(file) is not null;

    public byte[] Read(string file)
    {
        var entry = _zip.GetEntry(file) ?? throw new FileNotFoundException($"{Path} has no {file}");
        using var stream = entry.Open();
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    public string ReadText(string file) => Encoding.UTF8.GetString(Read(file)).TrimStart('\uFEFF');

    public void Dispose() => _zip.Dispose();
}
