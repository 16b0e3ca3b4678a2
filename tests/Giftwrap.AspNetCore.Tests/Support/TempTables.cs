// A scratch directory per test holding hosts.allow, hosts.deny and whatever a rule writes
// (spawn output, the ban store); removed when the test ends.
namespace Giftwrap.AspNetCore.Tests.Support;

internal sealed class TempTables : IDisposable
{
    public TempTables(string allow, string deny = "ALL : ALL\n")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("giftwrap-aspnet-").FullName;
        Allow = System.IO.Path.Combine(Directory, "hosts.allow");
        Deny = System.IO.Path.Combine(Directory, "hosts.deny");
        File.WriteAllText(Allow, allow);
        File.WriteAllText(Deny, deny);
    }

    public string Directory { get; }

    public string Allow { get; }

    public string Deny { get; }

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A spawned program may still hold a file; the temp directory is cleaned by the system.
        }
    }
}
