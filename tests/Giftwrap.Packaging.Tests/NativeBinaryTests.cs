// The NativeAOT `giftwrap` of scripts/publish.sh: one self-contained ELF file that runs
// with no .NET on the path and gives the same answers as the managed program.
namespace Giftwrap.Packaging.Tests;

[Collection(PackagingCollection.Name)]
public sealed class NativeBinaryTests(PackagingFixture fixture)
{
    private string Giftwrap => Path.Combine(fixture.Binaries, "giftwrap");

    private string Examples => Path.Combine(fixture.Source, "examples");

    /// <summary>Runs the binary with an environment that has no trace of .NET in it.</summary>
    private RunResult Native(string workingDirectory, string? stdin, params string[] args) =>
        Run.Program(Giftwrap, args, workingDirectory, new Dictionary<string, string?> { ["PATH"] = "/usr/bin:/bin", ["LANG"] = "C.UTF-8" },
            stdin, cleanEnvironment: true);

    [Fact]
    public void Publish_MakesOneNativeExecutablePerProgram()
    {
        var expected = Run.Program("bash", ["scripts/publish.sh", "--list"], fixture.Source).Succeeded().Stdout
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("giftwrap", expected);
        Assert.Equal(expected.Order(StringComparer.Ordinal), Directory.GetFiles(fixture.Binaries).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal));
        foreach (var name in expected)
        {
            var path = Path.Combine(fixture.Binaries, name);
            var head = new byte[4];
            using (var f = File.OpenRead(path))
                f.ReadExactly(head);
            Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }, head);
            Assert.True(File.GetUnixFileMode(path).HasFlag(UnixFileMode.UserExecute), $"{name} is not executable");
        }
    }

    [Fact]
    public void Match_OnTheExampleTables_PredictsLikeTcpdmatch()
    {
        var r = Native(Examples, null, "match", "-d", "sshd", "192.168.10.25");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(
            "client:   address  192.168.10.25\nserver:   process  sshd\nmatched:  hosts.allow line 5\naccess:   granted\n",
            r.Stdout);
        var twist = Native(Examples, null, "match", "-d", "in.fingerd", "198.51.100.50");
        Assert.Equal(0, twist.ExitCode);
        Assert.Contains("option:   twist /bin/echo \"finger is disabled on unknown\"\naccess:   delegated\n", twist.Stdout);
    }

    [Fact]
    public void MatchBatch_OnTheExampleRequests_DecidesEveryLine()
    {
        var requests = File.ReadAllText(Path.Combine(Examples, "requests.tsv"));
        var r = Native(Examples, requests, "match", "-d", "--batch");
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(requests.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => !l.StartsWith('#')), lines.Length);
        Assert.Equal("granted\thosts.allow:5", lines[0]);
        Assert.Equal("denied\thosts.deny:2", lines[1]);
        Assert.All(lines, l => Assert.Matches(@"^(granted|denied)\t(hosts\.(allow|deny):\d+|-)$", l));
    }

    [Fact]
    public void Check_TheExampleTables_AreClean()
    {
        var r = Native(Examples, null, "check", "-d");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("0 error(s), 0 warning(s)\n", r.Stdout);
    }

    [Fact]
    public void Check_ABrokenOption_IsAnErrorWithItsPlace_AndExitsOne()
    {
        using var tables = new TempTables("sshd : ALL : nosuchoption\n", "ALL : ALL\n");
        var r = Native(tables.Dir, null, "check", "-d");
        Assert.Equal(1, r.ExitCode);
        Assert.StartsWith("hosts.allow:1:14: error: bad option name: \"nosuchoption\"", r.Stdout);
        Assert.EndsWith("1 error(s), 0 warning(s)\n", r.Stdout);
    }

    private string Tcpd => Path.Combine(fixture.Binaries, "giftwrap-tcpd");

    [Fact]
    public void TcpdBinary_ExplicitForm_DecidesByTheTablesThenExecs()
    {
        using var tables = new TempTables("", "echo: ALL\n");
        string[] args = ["--allow", tables.Allow, "--deny", tables.Deny, "/bin/echo", "served"];
        var refused = Run.Program(Tcpd, args, tables.Dir);
        Assert.Equal(0, refused.ExitCode);
        Assert.Equal("", refused.Stdout);
        File.WriteAllText(tables.Allow, "echo: ALL\n");
        var served = Run.Program(Tcpd, args, tables.Dir);
        Assert.Equal(0, served.ExitCode);
        Assert.Equal("served\n", served.Stdout);
    }

    [Fact]
    public void TcpdBinary_DaemonAsArgv0_IsReadAsTcpdReadsIt()
    {
        // tcpd's inetd.conf line names the daemon as argv[0] (found in the daemon directory); the
        // system tables of a fresh Debian (comments only) grant it.
        var r = Run.Program("bash", ["-c", "exec -a echo \"$0\" argv0-form", Tcpd], fixture.Root,
            new Dictionary<string, string?> { ["GIFTWRAP_DAEMON_DIR"] = "/bin" });
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("argv0-form\n", r.Stdout);
    }

    [Fact]
    public void NativePrograms_StartWithoutProbingWhatTheyDoNotNeed()
    {
        // src/Directory.Build.targets gives every native program its gen0 budget, so the GC reads no cache
        // sizes from sysfs at start; giftwrap-tcpd's connect line and syslog writer hash no string, so the
        // runtime reads no random seed from /dev/urandom. Both cost giftwrap-tcpd's start per connection.
        using var tables = new TempTables("echo: ALL\n", "");
        var trace = Path.Combine(tables.Dir, "trace");
        foreach (var (program, args) in new[]
                 {
                     (Tcpd, new[] { "--allow", tables.Allow, "--deny", tables.Deny, "/bin/echo", "served" }),
                     (Giftwrap, new[] { "--version" }),
                 })
        {
            var r = Run.Program("strace", ["-f", "-e", "trace=openat,open", "-o", trace, program, .. args], tables.Dir);
            Assert.Equal(0, r.ExitCode);
            var opened = File.ReadAllText(trace);
            Assert.Contains("openat(", opened); // strace saw the program's files at all
            Assert.DoesNotContain("/cache/index", opened);
            if (program == Tcpd)
            {
                Assert.Equal("served\n", r.Stdout);
                Assert.DoesNotContain("/dev/urandom", opened);
            }
        }
    }

    /// <summary>hosts.allow and hosts.deny in a directory of their own, removed afterwards.</summary>
    private sealed class TempTables : IDisposable
    {
        public TempTables(string allow, string deny)
        {
            Dir = Directory.CreateTempSubdirectory("giftwrap-native-").FullName;
            File.WriteAllText(Allow, allow);
            File.WriteAllText(Deny, deny);
        }

        public string Dir { get; }
        public string Allow => Path.Combine(Dir, "hosts.allow");
        public string Deny => Path.Combine(Dir, "hosts.deny");

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }
}
