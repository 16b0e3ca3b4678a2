// scripts/deb.sh's packages, from the programs the fixture published: what lintian (Debian's
// own checker) says of them, what they hold, and a real dpkg install, remove and purge. The
// install runs in deb-sandbox.sh, inside a private mount namespace whose overlays over /usr,
// /etc and /var take every write: the machine's dpkg database and files are never touched,
// while dpkg, man, systemd-analyze and the maintainer scripts run as on a real host.
using Xunit.Abstractions;

namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class DebianPackageTests(PackagingFixture fixture, ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-deb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("amd64")]
    [InlineData("arm64")]
    public void Lintian_FindsNoErrorsAndNoWarnings(string arch)
    {
        var deb = fixture.Deb(arch);
        Assert.Equal($"giftwrap_{fixture.Version}_{arch}.deb", Path.GetFileName(deb));
        // Root runs lintian with a warning of its own on stderr; the findings are on stdout.
        var r = Run.Program("lintian", ["--info", "--display-info", "--pedantic", "--display-experimental", deb], _dir);
        output.WriteLine(r.Stdout);
        var findings = r.Stdout.Split('\n').Where(l => l.Length > 2 && l[1] == ':').ToList();
        Assert.DoesNotContain(findings, l => l.StartsWith("E:", StringComparison.Ordinal));
        Assert.DoesNotContain(findings, l => l.StartsWith("W:", StringComparison.Ordinal));
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public void Package_HoldsThePartsWhereDebianWantsThem()
    {
        var deb = fixture.Deb("amd64");
        var contents = Run.Program("dpkg-deb", ["--contents", deb], _dir).Succeeded().Stdout;
        foreach (var path in new[]
        {
            "./usr/sbin/giftwrap", "./usr/sbin/giftwrap-tcpd",
            "./usr/share/man/man8/giftwrap.8.gz", "./usr/share/man/man5/giftwrap.conf.5.gz", "./usr/share/man/man8/giftwrap-tcpd.8.gz",
            "./usr/lib/systemd/system/giftwrap.service", "./usr/lib/systemd/system/giftwrap.socket",
            "./usr/share/bash-completion/completions/giftwrap", "./etc/giftwrap/giftwrap.conf", "./etc/fail2ban/action.d/giftwrap.conf",
            "./usr/share/doc/giftwrap/copyright", "./usr/share/doc/giftwrap/changelog.gz",
        })
        {
            Assert.Contains(" " + path, contents);
        }
        Assert.DoesNotContain("./var/", contents); // the postinst makes the store's directory
        Assert.Equal("/etc/giftwrap/giftwrap.conf\n/etc/fail2ban/action.d/giftwrap.conf\n", Field(deb, "conffiles"));
        var control = Field(deb, "control");
        Assert.Contains($"Version: {fixture.Version}\n", control);
        Assert.Contains("Architecture: amd64\n", control);
        Assert.Matches(@"Depends: libc6 \(>= 2\.\d+\)", control);
        Assert.Contains("install -d -m 0750 /var/lib/giftwrap", Field(deb, "postinst"));
        // A remove keeps the ban store; only a purge takes it.
        var postrm = Field(deb, "postrm");
        Assert.Contains("if [ \"$1\" = purge ]; then\n    rm -rf /var/lib/giftwrap", postrm);
        var arm = Field(fixture.Deb("arm64"), "control");
        Assert.Contains("Architecture: arm64\n", arm);
    }

    private string Field(string deb, string member) =>
        Run.Program("dpkg-deb", ["--info", deb, member], _dir).Succeeded().Stdout;

    [Fact]
    public void Dpkg_InstallsRemovesAndPurges_LeavingConffileAndStoreOnRemove_AndNothingOnPurge()
    {
        var deb = fixture.Deb("amd64");
        var results = Path.Combine(_dir, "results");
        Run.Program("unshare", ["-m", "--propagation", "private", "bash", Path.Combine(fixture.Source, "tests", "Giftwrap.Packaging.Tests", "deb-sandbox.sh"), deb, results], _dir)
            .Succeeded();
        string Out(string step) => File.ReadAllText(Path.Combine(results, step + ".out"));
        void Ok(string step) => Assert.True(File.ReadAllText(Path.Combine(results, step + ".rc")).Trim() == "0", $"{step} failed:\n{Out(step)}");

        Assert.Equal("", Out("before"));
        Ok("install");
        Assert.Equal("install ok installed", Out("status-installed"));
        Ok("version");
        Assert.StartsWith(fixture.Version, Out("version"));
        Assert.Contains("usage: giftwrap-tcpd", Out("tcpd-usage"));
        Ok("check-config");
        Assert.Equal("750 root:root\n", Out("store-mode"));
        foreach (var page in new[] { "man", "man-tcpd", "man-conf" })
        {
            Ok(page);
            Assert.Contains("NAME", Out(page));
        }
        Assert.Contains("giftwrap - TCP Wrappers access control", Out("man"));
        // systemd-analyze verify also checks that ExecStart's program exists: /usr/sbin/giftwrap.
        Ok("verify");
        Assert.Equal("", Out("verify"));
        Assert.Contains("-F _giftwrap_complete giftwrap", Out("completion"));
        Assert.Equal("", Out("enabled")); // installed, not enabled

        Ok("remove");
        Assert.Equal("deinstall ok config-files", Out("status-removed"));
        Assert.Equal("# changed by the administrator\n", Out("conf-after-remove"));
        var afterRemove = Out("after-remove").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("/etc/giftwrap/giftwrap.conf", afterRemove);
        Assert.Contains("/var/lib/giftwrap/kept", afterRemove);
        Assert.DoesNotContain(afterRemove, p => p.StartsWith("/usr/", StringComparison.Ordinal));

        Ok("purge");
        Assert.Contains("no packages found matching giftwrap", Out("status-purged"));
        Assert.Equal("", Out("after-purge"));
    }
}
