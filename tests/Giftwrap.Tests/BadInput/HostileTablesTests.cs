// Hostile input is normal input: random bytes, NULs, invalid UTF-8, huge lines, deep
// EXCEPT chains, pattern files that name themselves, unreadable tables. No crash, no
// hang, and never an open door where the administrator closed one.
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Rules;
using Giftwrap.Tests.Conformance;

namespace Giftwrap.Tests.BadInput;

public sealed class HostileTablesTests
{
    private static readonly AccessRequest Client = TableFiles.Request("sshd", "10.9.8.7", "host.example.com", "bob", 22);

    [Fact]
    public void Decide_RandomBytes_NeverThrowAndAgreeWithLibwrap()
    {
        var rng = new Random(20261126);
        using var files = new TableFiles();
        for (var i = 0; i < 200; i++)
        {
            var bytes = new byte[rng.Next(1, 4000)];
            rng.NextBytes(bytes);
            File.WriteAllBytes(files.Deny, bytes);
            File.WriteAllBytes(files.Allow, bytes.AsSpan(0, bytes.Length / 3).ToArray());
            using var tables = files.Open();
            var request = "sshd\thost.example.com\t10.9.8.7\tbob\t-\t-\t22";
            var ours = Ours.Ask(tables, request);
            var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, [request])[0];
            Assert.Equal(theirs.Verdict, ours.Verdict);
            Assert.Equal(theirs.Match, ours.Match);
        }
    }

    [Fact]
    public void Decide_TenMegabyteLine_IsCutLikeLibwrapAndRefusesInDeny()
    {
        using var files = new TableFiles();
        var huge = new StringBuilder("sshd: ").Append('x', 10 * 1024 * 1024).Append(" ALL\n").Append("sshd: 10.9.8.7\n").ToString();
        File.WriteAllText(files.Deny, huge, Encoding.Latin1);
        using var tables = files.Open();
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Message.StartsWith("missing newline or line too long", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_InvalidUtf8AndNuls_AreReadAsBytes()
    {
        using var files = new TableFiles();
        File.WriteAllBytes(files.Deny, [.. "ALL: \xff\xfe\x80 10.9.8.7\n"u8, 0, .. "garbage\nALL: ALL\n"u8]);
        using var tables = files.Open();
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Equal(1, d.Match!.Line);
    }

    [Fact]
    public void Decide_PortTokenAfterAFormFeed_IsAPortAsForLibwrap()
    {
        // Found by the differential test (table seed 43509267): a NUL hid the rest of a line, the
        // next one joined it, and its first token became "\f22". Only blanks, tabs and line ends
        // split tokens, but sscanf("%u") skips every isspace() character: "\f22" names port 22.
        using var files = new TableFiles(deny: "\f22: ALL\n\v23: 10.9.8.7\n\f+22x: ALL\n");
        using var tables = files.Open();
        string[] requests = ["sshd\thost.example.com\t10.9.8.7\tbob\t-\t-\t22", "sshd\thost.example.com\t10.9.8.7\tbob\t-\t-\t23", "sshd\thost.example.com\t10.9.8.7\tbob\t-\t-\t24"];
        var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, [.. requests]);
        for (var i = 0; i < requests.Length; i++)
        {
            var ours = Ours.Ask(tables, requests[i]);
            Assert.Equal(theirs[i].Verdict, ours.Verdict);
            Assert.Equal(theirs[i].Match, ours.Match);
        }
        Assert.Equal(["denied", "denied", "granted"], theirs.Select(t => t.Verdict));
    }

    [Fact]
    public void Decide_DeepExceptChain_Evaluates()
    {
        var chain = string.Join(" EXCEPT ", Enumerable.Repeat("ALL", 400));
        using var files = new TableFiles(deny: $"sshd: \\\n{chain}\n");
        using var tables = files.Open();
        // 400 groups: ALL EXCEPT (ALL EXCEPT (...)) with an even count never matches.
        var d = tables.Decide(Client);
        var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, ["sshd\thost.example.com\t10.9.8.7\tbob\t-\t-\t22"])[0];
        Assert.Equal(theirs.Verdict, d.IsGranted ? "granted" : "denied");
    }

    [Fact]
    public void Decide_PatternFileNamingItself_RefusesInsteadOfLooping()
    {
        using var files = new TableFiles();
        var self = Path.Combine(files.Directory, "self");
        File.WriteAllText(self, $"{self}\n");
        File.WriteAllText(files.Allow, $"sshd: {self}\n");
        using var tables = files.Open();
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Code == "file-loop" && w.File == files.Allow && w.Line == 1);
    }

    [Fact]
    public async Task Decide_PatternFileNamingItselfAHundredTimes_RefusesAtOnceWithOneError()
    {
        // 1.6 KB of list: without a stop at the first error the search unwound 100^8 times (it never ended).
        using var files = new TableFiles();
        var self = Path.Combine(files.Directory, "self");
        File.WriteAllText(self, string.Concat(Enumerable.Repeat($"{self} ", 100)) + "\n");
        File.WriteAllText(files.Allow, $"sshd: {self}\n");
        using var tables = files.Open();
        var d = await Task.Run(() => tables.Decide(Client)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(d.IsGranted);
        var error = Assert.Single(d.Warnings, w => w.Code == "file-loop");
        Assert.Equal((files.Allow, 1), (error.File, error.Line));
    }

    [Fact]
    public async Task Decide_PatternFilesNamingOneAnotherManyTimesOver_RefusedWithinTheBound()
    {
        // Eight lists (as deep as nesting goes), each naming the next a hundred times and none itself: 100^7 steps
        // for a client that matches none (libwrap walks them for days). Past FilePattern.MaxSteps the search stops
        // and access is refused.
        using var files = new TableFiles();
        var last = files.Write("list7", "192.0.2.99\n");
        for (var i = 6; i >= 0; i--)
            last = files.Write($"list{i}", string.Concat(Enumerable.Repeat($"{last}\n", 100)));
        File.WriteAllText(files.Allow, $"sshd: {last}\n");
        using var tables = files.Open();
        var d = await Task.Run(() => tables.Decide(Client)).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False(d.IsGranted);
        var error = Assert.Single(d.Warnings, w => w.Code == "file-steps");
        Assert.Equal((files.Allow, 1), (error.File, error.Line));
        // A client in the innermost list is found on the first path down, as in libwrap.
        var inner = TableFiles.Request("sshd", "192.0.2.99", "host.example.com", "bob", 22);
        Assert.True(tables.Decide(inner).IsGranted);
    }

    [Fact]
    public async Task Check_PatternFilesNamingOneAnotherManyTimesOver_EndsAndSaysSuchClientsAreRefused()
    {
        // check walked every path through the lists, reading each file again each time: 100^4 reads here.
        using var files = new TableFiles();
        var last = files.Write("list4", "192.0.2.99\n");
        for (var i = 3; i >= 0; i--)
            last = files.Write($"list{i}", string.Concat(Enumerable.Repeat($"{last}\n", 100)));
        var shared = files.Write("shared", "192.0.2.98\n");
        File.WriteAllText(files.Allow, $"sshd: {last}\nftpd: {shared}\nsshd: {shared}\n");
        var report = await Task.Run(() => Giftwrap.Checks.TableChecker.Check(files.Allow, files.Deny)).WaitAsync(TimeSpan.FromSeconds(60));
        var error = Assert.Single(report.Diagnostics, d => d.Message.Contains("name one another so many times over", StringComparison.Ordinal));
        Assert.Equal((files.Allow, 1, DiagnosticSeverity.Error), (error.File, error.Line, error.Severity));
    }

    [Fact]
    public void Check_UnreadablePatternFileInAnExcept_SaysItExceptsNobody()
    {
        // libwrap grants here (the list cannot be opened, so the EXCEPT matches no client): the outcome is kept, and
        // check says what it means, not only libwrap's "open FILE: reason".
        using var files = new TableFiles();
        var loop = Path.Combine(files.Directory, "loop");
        File.CreateSymbolicLink(loop, loop);
        File.WriteAllText(files.Allow, $"sshd: ALL EXCEPT {loop}\n");
        var report = Giftwrap.Checks.TableChecker.Check(files.Allow, files.Deny);
        var warning = Assert.Single(report.Diagnostics, d => d.Message.StartsWith($"open {loop}: ", StringComparison.Ordinal));
        Assert.Equal((files.Allow, 1), (warning.File, warning.Line));
        Assert.Contains("an EXCEPT naming it excepts nobody", warning.Message, StringComparison.Ordinal);
        using var tables = files.Open();
        Assert.True(tables.Decide(Client).IsGranted);
    }

    [Fact]
    public void Decide_HugeTokenInPatternFile_Refuses()
    {
        using var files = new TableFiles();
        var list = files.Write("list", new string('a', 9000) + "\n");
        File.WriteAllText(files.Deny, $"sshd: {list}\n");
        using var tables = files.Open();
        Assert.False(tables.Decide(Client).IsGranted);
    }

    [Fact]
    public void Decide_UnreadableDenyTable_RefusesAndSaysWhere()
    {
        using var files = new TableFiles(deny: "ALL: 192.0.2.1\n");
        // A path through a regular file cannot be opened (ENOTDIR), even by root.
        using var tables = new Giftwrap.Tables.AccessTables(files.Allow, Path.Combine(files.Deny, "x"));
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Message.StartsWith("cannot open", StringComparison.Ordinal));
        var theirs = LibwrapOracle.Ask(files.Allow, Path.Combine(files.Deny, "x"), ["sshd\thost.example.com\t10.9.8.7\tbob\t-\t-\t22"])[0];
        Assert.Equal("denied", theirs.Verdict);
    }

    [Fact]
    public void Decide_UnreadableAllowTable_FallsThroughToDeny()
    {
        using var files = new TableFiles(deny: "sshd: 10.9.8.7\n");
        using var tables = new Giftwrap.Tables.AccessTables(Path.Combine(files.Deny, "x"), files.Deny);
        Assert.False(tables.Decide(Client).IsGranted);
        using var tables2 = new Giftwrap.Tables.AccessTables(Path.Combine(files.Deny, "x"), files.Allow);
        Assert.True(tables2.Decide(Client).IsGranted);
    }
}
