// scripts/install.sh into a temporary root, with the binaries the fixture published: the
// programs, manual pages, units, default paths and completion land where they should, and
// an administrator's giftwrap.conf is never replaced.
namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class InstallTests(PackagingFixture fixture) : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("giftwrap-root-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    internal static RunResult Install(PackagingFixture fixture, string root, params string[] args) =>
        Run.Program("bash", ["scripts/install.sh", "--root", root, .. args], fixture.Source,
            new Dictionary<string, string?> { ["GIFTWRAP_BINARIES"] = fixture.Binaries }).Succeeded();

    private string At(string path) => Path.Combine(_root, path.TrimStart('/'));

    [Fact]
    public void Install_PutsEveryPartInPlace()
    {
        Install(fixture, _root);
        foreach (var name in Run.Program("bash", ["scripts/publish.sh", "--list"], fixture.Source).Succeeded().Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var bin = At($"/usr/local/bin/{name}");
            Assert.True(File.Exists(bin), $"{bin} is missing");
            Assert.Equal(File.ReadAllBytes(Path.Combine(fixture.Binaries, name)), File.ReadAllBytes(bin));
            Assert.True(File.GetUnixFileMode(bin).HasFlag(UnixFileMode.OtherExecute));
        }
        Assert.True(File.Exists(At("/usr/local/share/man/man8/giftwrap.8")));
        Assert.True(File.Exists(At("/usr/local/share/man/man5/giftwrap.conf.5")));
        Assert.True(Directory.Exists(At("/var/lib/giftwrap")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute,
            File.GetUnixFileMode(At("/var/lib/giftwrap")));
        // systemd reads /usr/local/lib/systemd/system: the units of a /usr/local install go there.
        var service = File.ReadAllText(At("/usr/local/lib/systemd/system/giftwrap.service"));
        Assert.Contains("ExecStart=/usr/local/bin/giftwrap serve --config /etc/giftwrap/giftwrap.conf", service);
        Assert.Contains("ListenStream=", File.ReadAllText(At("/usr/local/lib/systemd/system/giftwrap.socket")));
        Assert.True(File.Exists(At("/usr/local/share/doc/giftwrap/examples/systemd/finger@.service")));
        Assert.True(File.Exists(At("/usr/local/share/doc/giftwrap/examples/transparent/routing.sh")));
        // The default configuration guards the system's tables, not the repository's examples.
        var conf = File.ReadAllText(At("/etc/giftwrap/giftwrap.conf"));
        Assert.Contains("allow = /etc/hosts.allow", conf);
        Assert.Contains("deny = /etc/hosts.deny", conf);
        Assert.DoesNotContain("examples/", conf);
    }

    [Fact]
    public void Install_TheDefaultConfiguration_IsValid()
    {
        Install(fixture, _root);
        var r = Run.Program(At("/usr/local/bin/giftwrap"), ["serve", "--check-config", "--config", At("/etc/giftwrap/giftwrap.conf")], _root);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Contains("configuration OK", r.Stdout);
    }

    [Fact]
    public void Install_AnExistingConfiguration_IsKeptAsItIs()
    {
        var conf = At("/etc/giftwrap/giftwrap.conf");
        Directory.CreateDirectory(Path.GetDirectoryName(conf)!);
        const string Mine = "# the administrator's own\n[service:x]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n";
        File.WriteAllText(conf, Mine);
        var r = Install(fixture, _root);
        Assert.Equal(Mine, File.ReadAllText(conf));
        Assert.Contains("exists: kept", r.Stdout);
        // Installing again over an installed tree changes nothing of it either.
        Install(fixture, _root);
        Assert.Equal(Mine, File.ReadAllText(conf));
    }

    [Fact]
    public void Install_AnotherPrefix_PutsUnitsInEtc_PointingAtTheBinary()
    {
        Install(fixture, _root, "--prefix", "/opt/giftwrap");
        Assert.True(File.Exists(At("/opt/giftwrap/bin/giftwrap")));
        Assert.True(File.Exists(At("/opt/giftwrap/share/man/man8/giftwrap.8")));
        var service = File.ReadAllText(At("/etc/systemd/system/giftwrap.service"));
        Assert.Contains("ExecStart=/opt/giftwrap/bin/giftwrap serve", service);
        Assert.DoesNotContain("/usr/local", service);
        Assert.False(Directory.Exists(At("/usr/local")));
    }

    [Fact]
    public void Install_BashCompletion_ExactlyWhenTheProgramOffersIt()
    {
        Install(fixture, _root);
        var offered = Run.Program(Path.Combine(fixture.Binaries, "giftwrap"), ["completion", "bash"], _root);
        var file = At("/usr/local/share/bash-completion/completions/giftwrap");
        Assert.Equal(offered.ExitCode == 0 && offered.Stdout.Length > 0, File.Exists(file));
        if (File.Exists(file))
            Assert.Equal(offered.Stdout, File.ReadAllText(file));
    }

    [Fact]
    public void Install_WithoutBinaries_Fails_AndSaysWhy()
    {
        var empty = Directory.CreateDirectory(Path.Combine(_root, "no-binaries")).FullName;
        var r = Run.Program("bash", ["scripts/install.sh", "--root", Path.Combine(_root, "target")], fixture.Source,
            new Dictionary<string, string?> { ["GIFTWRAP_BINARIES"] = empty });
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("giftwrap is missing", r.Stderr);
        Assert.False(File.Exists(Path.Combine(_root, "target", "etc", "giftwrap", "giftwrap.conf")));
    }
}
