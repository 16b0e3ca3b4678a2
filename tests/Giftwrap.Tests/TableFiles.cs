// A pair of table files in a fresh temporary directory, removed afterwards.
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.Tests;

public sealed class TableFiles : IDisposable
{
    public TableFiles(string allow = "", string deny = "")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("giftwrap-test-").FullName;
        Allow = Path.Combine(Directory, "hosts.allow");
        Deny = Path.Combine(Directory, "hosts.deny");
        File.WriteAllText(Allow, allow, Encoding.Latin1);
        File.WriteAllText(Deny, deny, Encoding.Latin1);
    }

    public string Directory { get; }
    public string Allow { get; }
    public string Deny { get; }

    public string Write(string name, string text)
    {
        var path = Path.Combine(Directory, name);
        File.WriteAllText(path, text, Encoding.Latin1);
        return path;
    }

    public AccessTables Open(bool live = false) => new(Allow, Deny, new AccessTablesOptions { Live = live });

    public static AccessRequest Request(string daemon, string address, string? name = "unknown", string? user = "unknown", int port = 0) =>
        new() { Daemon = daemon, ClientAddress = address, ClientName = name, ClientUser = user, ServerPort = port };

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
