using System.Text.Json;

namespace Giftwrap.Cli.Tests;

public sealed class MatchCommandTests
{
    [Fact]
    public void Match_LocalTables_PrintsLikeTcpdmatch()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: 10.0.0.0/8 : spawn echo %a : setenv WHO %u\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var r = CliRunner.Run(dir.Path, "match", "-d", "sshd", "bob@10.1.2.3");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(
            "client:   address  10.1.2.3\nclient:   username bob\nserver:   process  sshd\n" +
            "matched:  hosts.allow line 1\noption:   spawn echo 10.1.2.3\noption:   setenv WHO bob\naccess:   granted\n",
            r.Stdout);
    }

    [Fact]
    public void Match_Twist_IsDelegated_AndDenyIsDenied()
    {
        using var dir = new TempDir();
        var allow = dir.Write("a", "in.fingerd: ALL: twist /bin/echo no\n");
        var deny = dir.Write("d", "ALL: ALL\n");
        Assert.Contains("access:   delegated", CliRunner.Run(dir.Path, "match", "--allow", allow, "--deny", deny, "in.fingerd", "10.1.2.3").Stdout);
        var refused = CliRunner.Run(dir.Path, "match", "--allow", allow, "--deny", deny, "sshd", "10.1.2.3").Stdout;
        Assert.Contains("matched:  " + deny + " line 1", refused);
        Assert.EndsWith("access:   denied\n", refused);
    }

    [Fact]
    public void Match_HostName_GivesOnePredictionPerAddress()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: localhost\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        var r = CliRunner.Run(dir.Path, "match", "-d", "--json", "sshd", "localhost");
        using var doc = JsonDocument.Parse(r.Stdout);
        var predictions = doc.RootElement.EnumerateArray().ToList();
        Assert.NotEmpty(predictions);
        Assert.All(predictions, p => Assert.Equal("localhost", p.GetProperty("client").GetProperty("hostname").GetString()));
        Assert.Contains(predictions, p => p.GetProperty("client").GetProperty("address").GetString() == "127.0.0.1");
        Assert.All(predictions, p => Assert.Equal("granted", p.GetProperty("access").GetString()));
    }

    [Fact]
    public void Match_UnresolvableName_FailsWithAMessage()
    {
        using var dir = new TempDir();
        var r = CliRunner.Run(dir.Path, "match", "-d", "sshd", "no-such-host.invalid");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("no-such-host.invalid", r.Stderr);
    }

    [Fact]
    public void Match_ArgumentsReadAsTcpdmatchReadsThem()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: a_b@ALL : spawn echo %u\nALL: 127.0.0.0/8 : spawn echo %a\nALL: UNKNOWN : spawn echo %n\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        // A daemon path is its basename; the user is sanitised before matching (a;b matches a_b).
        var path = CliRunner.Run(dir.Path, "match", "-d", "/usr/sbin/sshd", "a;b@10.1.2.3");
        Assert.Equal("client:   address  10.1.2.3\nclient:   username a_b\nserver:   process  sshd\nmatched:  hosts.allow line 1\noption:   spawn echo a_b\naccess:   granted\n", path.Stdout);
        Assert.Contains("/usr/sbin/sshd: daemon name normalized to: sshd", path.Stderr);
        // The special names keep their spelling; an empty user is unknown, not a response file.
        Assert.Contains("option:   spawn echo UNKNOWN\n", CliRunner.Run(dir.Path, "match", "-d", "ftpd", "UNKNOWN").Stdout);
        var empty = CliRunner.Run(dir.Path, "match", "-d", "ftpd", "@10.1.2.3");
        Assert.Equal(0, empty.ExitCode);
        Assert.StartsWith("client:   address  10.1.2.3\nserver:   process  ftpd\n", empty.Stdout);
        // A dotted quad is taken as typed; other numeric forms go through the resolver.
        Assert.Contains("option:   spawn echo 0x7f.0.0.5\n", CliRunner.Run(dir.Path, "match", "-d", "ftpd", "0x7f.0.0.5").Stdout);
        Assert.Contains("client:   address  127.0.0.5\n", CliRunner.Run(dir.Path, "match", "-d", "ftpd", "127.5").Stdout);
        Assert.Contains("client:   address  127.0.0.5\n", CliRunner.Run(dir.Path, "match", "-d", "ftpd", "2130706437").Stdout);
    }

    [Fact]
    public void Match_InetdConf_WarnsAboutUnwrappedDaemons()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        var inetd = dir.Write("inetd.conf", "talk dgram udp wait nobody.tty /usr/sbin/in.talkd in.talkd\ntelnet stream tcp nowait root /usr/sbin/tcpd in.telnetd\n");
        Assert.Contains("warning: in.talkd: service possibly not wrapped", CliRunner.Run(dir.Path, "match", "-d", "-i", inetd, "in.talkd", "10.1.2.3").Stderr);
        Assert.Contains($"warning: in.rshd: no such process name in {inetd}", CliRunner.Run(dir.Path, "match", "-d", "-i", inetd, "in.rshd", "10.1.2.3").Stderr);
        var wrapped = CliRunner.Run(dir.Path, "match", "-d", "-i", inetd, "in.telnetd", "10.1.2.3");
        Assert.DoesNotContain("warning: in.telnetd: no such process name", wrapped.Stderr);
        Assert.DoesNotContain("warning: in.telnetd: service possibly not wrapped", wrapped.Stderr);
        Assert.EndsWith("access:   granted\n", wrapped.Stdout);
        Assert.Equal(1, CliRunner.Run(dir.Path, "match", "-d", "-i", Path.Combine(dir.Path, "nonesuch"), "sshd", "10.1.2.3").ExitCode);
    }

    [Fact]
    public void Batch_AnswersEveryLineInOrder_AndRefusesMalformedOnes()
    {
        using var dir = new TempDir();
        var allow = dir.Write("allow", "sshd: 10.0.0.0/8\n");
        var deny = dir.Write("deny", "ALL: ALL\n");
        var input = "sshd\t-\t10.1.2.3\t-\t-\t-\t22\nsshd\t-\t192.0.2.1\t-\t-\t-\t22\nbroken line\nftpd\t-\t10.1.2.3\t-\t-\t-\t0\n";
        var r = CliRunner.RunWithInput(dir.Path, input, "match", "--allow", allow, "--deny", deny, "--batch");
        Assert.Equal($"granted\t{allow}:1\ndenied\t{deny}:1\ndenied\t-\ndenied\t{deny}:1\n", r.Stdout);
        Assert.Contains("stdin line 3", r.Stderr);
        Assert.Equal(1, r.ExitCode);
    }

    [Fact]
    public void Batch_ControlCharactersInABadPort_AreNotEchoedRaw()
    {
        // Batch input is often made from logs: a port field holding ESC sequences went to stderr as it was.
        using var dir = new TempDir();
        var allow = dir.Write("allow", "sshd: 10.0.0.0/8\n");
        var deny = dir.Write("deny", "ALL: ALL\n");
        var r = CliRunner.RunWithInput(dir.Path, "sshd\t-\t10.1.2.3\t-\t-\t-\t\u001b]0;x\u0007\u009b2J\n", "match", "--allow", allow, "--deny", deny, "--batch");
        Assert.Equal("denied\t-\n", r.Stdout);
        Assert.Contains("stdin line 1: bad server port \"?]0;x??2J\"; answered denied", r.Stderr, StringComparison.Ordinal);
        Assert.Equal(1, r.ExitCode);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Batch_HundredMillionCharacterLine_RefusedInBoundedMemory()
    {
        // ReadLine() kept the whole line: 100 million characters were 200 MB of string (a 200 MB line took 1.7 GB).
        using var dir = new TempDir();
        var allow = dir.Write("allow", "sshd: 10.0.0.0/8\n");
        var deny = dir.Write("deny", "ALL: ALL\n");
        var input = new HugeLineReader("sshd\t-\t10.1.2.3\t-\t-\t-\t22\r\n", 100_000_000, "\r\nsshd\t-\t10.1.2.3\t-\t-\t-\t22");
        var output = new StringWriter();
        var errors = new StringWriter();
        var before = GC.GetAllocatedBytesForCurrentThread();
        var status = Giftwrap.Cli.Commands.BatchMatcher.Run(allow, deny, input, output, errors);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < 32 << 20, $"{allocated} bytes allocated");
        Assert.Equal($"granted\t{allow}:1\ndenied\t-\ngranted\t{allow}:1\n", output.ToString().ReplaceLineEndings("\n"));
        Assert.Contains("stdin line 2: longer than 65536 characters; answered denied", errors.ToString(), StringComparison.Ordinal);
        Assert.Equal(1, status);
    }

    /// <summary>A text, then that many 'a's (never held in memory), then another text.</summary>
    private sealed class HugeLineReader(string head, long count, string tail) : TextReader
    {
        private long _at;

        public override int Peek() => _at < head.Length + count + tail.Length ? At(_at) : -1;

        public override int Read() => _at < head.Length + count + tail.Length ? At(_at++) : -1;

        public override int Read(char[] buffer, int index, int count)
        {
            var n = 0;
            int c;
            while (n < count && (c = Read()) >= 0)
                buffer[index + n++] = (char)c;
            return n;
        }

        private char At(long i) => i < head.Length ? head[(int)i] : i < head.Length + count ? 'a' : tail[(int)(i - head.Length - count)];
    }

    [Fact]
    public void Batch_StreamsAMillionRequests()
    {
        using var dir = new TempDir();
        var allow = dir.Write("allow", "sshd: 10.0.0.0/8\n");
        var deny = dir.Write("deny", "ALL: ALL\n");
        const int n = 1_000_000;
        var r = CliRunner.Feed(dir.Path, w =>
        {
            for (var i = 0; i < n; i++)
                w.Write(i % 2 == 0 ? "sshd\t-\t10.1.2.3\t-\t-\t-\t22\n" : "sshd\t-\t192.0.2.1\t-\t-\t-\t22\n");
        }, "match", "--allow", allow, "--deny", deny, "--batch");
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(n, lines.Length);
        Assert.StartsWith("granted", lines[0], StringComparison.Ordinal);
        Assert.StartsWith("denied", lines[^1], StringComparison.Ordinal);
    }
}
