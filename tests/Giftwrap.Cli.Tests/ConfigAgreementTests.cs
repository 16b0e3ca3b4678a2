// One schema, one set of rules: what `serve --check-config` refuses, `check --config` reports
// as the same errors at the same file:line, and ban, kernel and edit refuse to act on. The one
// difference on purpose: a file with no [service:NAME] (kept for [safety] keep) is fine to check.
namespace Giftwrap.Cli.Tests;

public sealed class ConfigAgreementTests
{
    /// <summary>Configurations serve refuses for a rule beyond the file's syntax (services, traps, bans).</summary>
    public static TheoryData<string, string> Refused => new()
    {
        { "exec and trap", "[service:t]\nlisten = 127.0.0.1:1\nexec = /bin/cat\ntrap = 1h\n[bans]\nstore = {dir}/store\n" },
        { "trap without bans", "[service:t]\nlisten = 127.0.0.1:1\ntrap = 1h\n" },
        { "no such program", "[service:t]\nlisten = 127.0.0.1:1\nexec = {dir}/no-such-program\n" },
        { "udp forward", "[service:t]\nlisten = udp:127.0.0.1:1\nforward = 127.0.0.1:2\n" },
        { "one address twice", "[service:a]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n[service:b]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:3\n" },
        { "console and syslog off", "[log]\nsyslog = off\nconsole = off\n[service:t]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n" },
        { "console neither auto, on nor off", "[log]\nconsole = journal\n[service:t]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n" },
        { "several at once", "[service:t]\nlisten = 127.0.0.1:1\nexec = /bin/cat\ntrap = 1h\n[service:u]\nlisten = 127.0.0.1:2\nuser = no-such-user-4711\nforward = 127.0.0.1:3\n" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Check_ConfigServeRefuses_FailsWithServesErrorsAtTheirPlaces(string name, string text)
    {
        using var dir = new TempDir();
        var (conf, allow, deny) = Files(dir, text);
        var serve = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, serve.ExitCode);
        var served = ServeErrors(serve.Stderr);
        Assert.NotEmpty(served);
        Assert.All(served, e => Assert.StartsWith($"{conf}", e, StringComparison.Ordinal));
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.True(check.ExitCode == 1, $"{name}: check exited {check.ExitCode}:\n{check.Stdout}");
        Assert.Equal(served, CheckErrors(check.Stdout));
        Assert.Contains($"{served.Count} error(s)", check.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_ExecAndTrap_NamesTheSectionAndTheTrapLine()
    {
        using var dir = new TempDir();
        var (conf, allow, deny) = Files(dir, "[service:t]\nlisten = 127.0.0.1:1\nexec = /bin/cat\ntrap = 1h\n");
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.Equal(1, check.ExitCode);
        Assert.Equal(
            [$"{conf}:1:1: [service:t] needs exactly one of forward = address:port, exec = program or trap = duration",
             $"{conf}:4:8: [service:t] trap needs the ban store: add a [bans] section"],
            CheckErrors(check.Stdout));
    }

    [Fact]
    public void Check_TwoAddressesTakenTwice_BothNamed()
    {
        using var dir = new TempDir();
        var text = string.Concat(new[] { ("a", 1), ("b", 1), ("c", 4), ("d", 4) }.Select(s => $"[service:{s.Item1}]\nlisten = 127.0.0.1:{s.Item2}\nforward = 127.0.0.1:9\n"));
        var (conf, allow, deny) = Files(dir, text);
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.Equal(1, check.ExitCode);
        Assert.Equal(
            [$"{conf}: 127.0.0.1:1 is the listen address of more than one service (a, b)",
             $"{conf}: 127.0.0.1:4 is the listen address of more than one service (c, d)"],
            CheckErrors(check.Stdout));
    }

    [Fact]
    public void Check_OnlySafetyKeep_IsValid_AndSaysServeWouldRefuseIt()
    {
        using var dir = new TempDir();
        var (conf, allow, deny) = Files(dir, "[safety]\nkeep = 127.0.0.1\n");
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns", "-v");
        Assert.Equal(0, check.ExitCode);
        Assert.Contains($"{conf}: info: no [service:NAME] section: check reads only [safety] keep from it; giftwrap serve would refuse it", check.Stdout, StringComparison.Ordinal);
        Assert.EndsWith("0 error(s), 0 warning(s)\n", check.Stdout, StringComparison.Ordinal);
        var quiet = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.DoesNotContain("[service:NAME]", quiet.Stdout, StringComparison.Ordinal);
        var serve = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, serve.ExitCode);
        Assert.Contains("no [service:NAME] section: nothing to guard", serve.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Check_StoreIsAFile_IsAnErrorAsForServe()
    {
        using var dir = new TempDir();
        var (conf, allow, deny) = Files(dir, "[service:t]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n[bans]\nstore = {dir}/hosts.allow\n");
        var serve = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, serve.ExitCode);
        Assert.Contains($"{conf}:5:9: ban store {allow} is a file", serve.Stderr, StringComparison.Ordinal);
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.Equal(1, check.ExitCode);
        Assert.Contains($"{conf}:5:9: error: ban store {allow} is a file", check.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Ban_ConfigServeRefuses_TouchesNoStore()
    {
        using var dir = new TempDir();
        var (conf, _, _) = Files(dir, "[service:t]\nlisten = 127.0.0.1:1\nexec = /bin/cat\ntrap = 1h\n[bans]\nstore = {dir}/store\n");
        var ban = CliRunner.Run(dir.Path, "ban", "192.0.2.7", "--config", conf);
        Assert.Equal(2, ban.ExitCode);
        Assert.Contains($"giftwrap: {conf}:1:1: [service:t] needs exactly one of", ban.Stderr, StringComparison.Ordinal);
        Assert.Contains("the ban store was not touched", ban.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "store")));
    }

    [Fact]
    public void Ban_OnlyBansAndKeep_NoServiceNeeded()
    {
        using var dir = new TempDir();
        var (conf, _, _) = Files(dir, "[bans]\nstore = {dir}/store\n[safety]\nkeep = 192.0.2.8\n");
        Assert.Equal(0, CliRunner.Run(dir.Path, "ban", "192.0.2.7", "--config", conf).ExitCode);
        var kept = CliRunner.Run(dir.Path, "ban", "192.0.2.8", "--config", conf);
        Assert.Equal(1, kept.ExitCode);
    }

    [Fact]
    public void Kernel_ConfigServeRefuses_ExitsTwoWithEveryError()
    {
        using var dir = new TempDir();
        var (conf, _, _) = Files(dir, "[service:t]\nlisten = 127.0.0.1:1\ntrap = 1h\n[service:u]\nlisten = 127.0.0.1:2\nexec = {dir}/no-such-program\n");
        var kernel = CliRunner.Run(dir.Path, "kernel", "status", "--config", conf);
        Assert.Equal(2, kernel.ExitCode);
        Assert.Contains($"giftwrap: {conf}:3:8: [service:t] trap needs the ban store", kernel.Stderr, StringComparison.Ordinal);
        Assert.Contains($"giftwrap: {conf}:6:8: {dir.Path}/no-such-program: no such program", kernel.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Edit_ConfigServeRefuses_LeavesTheTable()
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "sshd: 10.0.0.0/8\n");
        dir.Write("hosts.deny", "");
        var (conf, _, _) = Files(dir, "[service:t]\nlisten = 127.0.0.1:1\ntrap = 1h\n");
        const string editor = "sh -c 'echo \"ftpd: 192.0.2.1\" >> \"$0\"'";
        var env = new Dictionary<string, string> { ["EDITOR"] = editor, ["VISUAL"] = editor };
        var edit = CliRunner.FeedWith(dir.Path, null, env, "edit", "-d", "--config", conf, "--yes");
        Assert.Equal(1, edit.ExitCode);
        Assert.Contains($"{conf}:3:8: error: [service:t] trap needs the ban store", edit.Stdout, StringComparison.Ordinal);
        Assert.Equal("sshd: 10.0.0.0/8\n", File.ReadAllText(allow));
    }

    private static (string Conf, string Allow, string Deny) Files(TempDir dir, string conf)
    {
        var allow = File.Exists(Path.Combine(dir.Path, "hosts.allow")) ? Path.Combine(dir.Path, "hosts.allow") : dir.Write("hosts.allow", "");
        var deny = File.Exists(Path.Combine(dir.Path, "hosts.deny")) ? Path.Combine(dir.Path, "hosts.deny") : dir.Write("hosts.deny", "");
        return (dir.Write("giftwrap.conf", conf.Replace("{dir}", dir.Path, StringComparison.Ordinal)), allow, deny);
    }

    /// <summary>serve's error lines ("giftwrap: PLACE: MESSAGE") without the prefix and the count.</summary>
    private static List<string> ServeErrors(string stderr) =>
        [.. stderr.Split('\n').Where(l => l.StartsWith("giftwrap: ", StringComparison.Ordinal) && !l.Contains("error(s) in the configuration", StringComparison.Ordinal))
            .Select(l => l["giftwrap: ".Length..])];

    /// <summary>check's error lines ("PLACE: error: MESSAGE") as "PLACE: MESSAGE", to compare with serve's.</summary>
    private static List<string> CheckErrors(string stdout) =>
        [.. stdout.Split('\n').Where(l => l.Contains(": error: ", StringComparison.Ordinal)).Select(l => l.Replace(": error: ", ": ", StringComparison.Ordinal))];
}
