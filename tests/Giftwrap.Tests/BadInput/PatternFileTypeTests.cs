// /file pattern lists that are not plain lists: NUL bytes, /dev/zero, FIFOs, directories,
// tables that are FIFOs. Nothing a table names may block a decision; where libwrap would
// crash or hang the rule fails closed with the place named, and where libwrap's outcome is
// defined (short NUL tokens, directories) it is kept with a warning, checked against the real libwrap.
using System.Diagnostics;
using Giftwrap.Decisions;
using Giftwrap.Tests.Conformance;

namespace Giftwrap.Tests.BadInput;

public sealed class PatternFileTypeTests
{
    private const string RequestLine = "sshd\t-\t10.9.8.7\t-\t-\t-\t22";
    private static readonly AccessRequest Client = TableFiles.Request("sshd", "10.9.8.7", port: 22);

    [Fact]
    public void Decide_NineThousandNulBytesInPatternFile_RefusesAndNamesThePlace()
    {
        using var files = new TableFiles();
        var list = Path.Combine(files.Directory, "nuls");
        File.WriteAllBytes(list, new byte[9000]);
        File.WriteAllText(files.Deny, $"sshd: {list}\n");
        using var tables = files.Open(live: true);
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Code == "file-token" && w.File == files.Deny && w.Line == 1 && w.Message.StartsWith($"{list}:1:", StringComparison.Ordinal));
        // libwrap overflows its buffer with the same file.
        Assert.Equal("crash", LibwrapOracle.Ask(files.Allow, files.Deny, [RequestLine])[0].Verdict);
    }

    [Theory]
    [InlineData("\0\n", "nothing")]
    [InlineData("10.9.8.7\0junk\n", "the address")]
    [InlineData("\0\0\0 10.9.8.7\n", "the address after")]
    public void Decide_ShortNulTokens_KeepLibwrapsOutcomeWithAWarning(string content, string what)
    {
        using var files = new TableFiles();
        var list = Path.Combine(files.Directory, "list");
        File.WriteAllBytes(list, System.Text.Encoding.Latin1.GetBytes(content));
        foreach (var (allow, deny) in new[] { ($"sshd: {list}\n", "ALL: ALL\n"), ("", $"sshd: {list}\n") })
        {
            File.WriteAllText(files.Allow, allow);
            File.WriteAllText(files.Deny, deny);
            using var tables = files.Open();
            var ours = Ours.Ask(tables, RequestLine);
            var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, [RequestLine])[0];
            Assert.True(theirs.Verdict == ours.Verdict && theirs.Match == ours.Match, $"{what}: libwrap {theirs.Verdict} {theirs.Match}, ours {ours.Verdict} {ours.Match}");
            Assert.Contains(ours.Decision.Warnings, w => w.Code == "file-nul" && w.Message.StartsWith($"{list}:1:", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Decide_DevZeroAsPatternFile_RefusesAndNamesIt()
    {
        using var files = new TableFiles(deny: "sshd: /dev/zero\n");
        using var tables = files.Open(live: true);
        var d = tables.Decide(Client);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Code == "file-type" && w.File == files.Deny && w.Message.Contains("/dev/zero: a character device", StringComparison.Ordinal));
        Assert.Equal("crash", LibwrapOracle.Ask(files.Allow, files.Deny, [RequestLine])[0].Verdict);
    }

    [Fact]
    public void Decide_DirectoryAsPatternFile_NoMatchAsInLibwrapWithAWarning()
    {
        using var files = new TableFiles();
        var dir = Directory.CreateDirectory(Path.Combine(files.Directory, "lists")).FullName;
        // libwrap opens a directory and reads nothing: the pattern matches nothing, in either table.
        foreach (var (allow, deny) in new[] { ($"sshd: {dir}\n", "ALL: ALL\n"), ("", $"sshd: {dir}\n") })
        {
            File.WriteAllText(files.Allow, allow);
            File.WriteAllText(files.Deny, deny);
            using var tables = files.Open();
            var ours = Ours.Ask(tables, RequestLine);
            var theirs = LibwrapOracle.Ask(files.Allow, files.Deny, [RequestLine])[0];
            Assert.True(theirs.Verdict == ours.Verdict && theirs.Match == ours.Match, $"libwrap {theirs.Verdict} {theirs.Match}, ours {ours.Verdict} {ours.Match}");
            Assert.Contains(ours.Decision.Warnings, w => w.Code == "file-type" && w.Line == 1 && w.Message.Contains($"{dir}: a directory", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Decide_FifoAsPatternFile_NeitherHangsNorGrants()
    {
        using var files = new TableFiles();
        var fifo = MakeFifo(files.Directory, "list");
        File.WriteAllText(files.Allow, $"sshd: {fifo}\n");
        File.WriteAllText(files.Deny, $"ALL: {fifo}\n");
        using var tables = files.Open(live: true);
        var d = DecideOrUnblock(() => tables.Decide(Client), fifo);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Code == "file-type" && w.File == files.Allow && w.Message.Contains($"{fifo}: a FIFO", StringComparison.Ordinal));
    }

    [Fact]
    public void Decide_FifoAsDenyTable_RefusesWithoutHanging()
    {
        using var files = new TableFiles();
        var fifo = MakeFifo(files.Directory, "deny-fifo");
        var d = DecideOrUnblock(() =>
        {
            using var tables = new Giftwrap.Tables.AccessTables(files.Allow, fifo, new Giftwrap.Tables.AccessTablesOptions { Live = false });
            return tables.Decide(Client);
        }, fifo);
        Assert.False(d.IsGranted);
        Assert.Contains(d.Warnings, w => w.Message.Contains($"cannot open {fifo}: a FIFO", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Check_FifoAndDeviceAsPatternFiles_WarnWithoutReadingThem()
    {
        // Found by scripts/fuzz.sh tables: check read a /file list with File.ReadAllText, so /dev/full
        // (or /dev/zero) was read until memory ran out and a FIFO hung it in open(2).
        using var files = new TableFiles();
        var fifo = MakeFifo(files.Directory, "list");
        File.WriteAllText(files.Deny, $"sshd: {fifo}\nALL: /dev/null\n");
        var task = Task.Run(() => Giftwrap.Checks.TableChecker.Check(files.Allow, files.Deny));
        if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30))) != task)
        {
            using (new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
            Assert.Fail("check blocked in open(2) on the FIFO");
        }
        var warnings = (await task).Diagnostics.Where(d => d.File == files.Deny).Select(d => $"{d.Line}: {d.Message}").ToList();
        Assert.Contains(warnings, w => w.StartsWith($"1: {fifo}: a FIFO, not a regular file;", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.StartsWith("2: /dev/null: a character device, not a regular file;", StringComparison.Ordinal));
    }

    // A decision that blocked in open(2) is released by opening the FIFO's other end, so a failing test ends.
    private static Decision DecideOrUnblock(Func<Decision> decide, string fifo)
    {
        var task = Task.Run(decide);
        if (!task.Wait(TimeSpan.FromSeconds(30)))
        {
            for (var i = 0; i < 10 && !task.IsCompleted; i++)
            {
                using (var w = new FileStream(fifo, FileMode.Open, FileAccess.Write)) { }
                task.Wait(TimeSpan.FromSeconds(1));
            }
            Assert.Fail("the decision blocked in open(2) on the FIFO");
        }
        return task.Result;
    }

    // A FIFO named by a table: the table itself (Live = false reads it in the constructor) or a /file list.
    private static string MakeFifo(string dir, string name)
    {
        var path = Path.Combine(dir, name);
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { UseShellExecute = false })!;
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return path;
    }
}
