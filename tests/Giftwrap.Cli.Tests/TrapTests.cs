// Traps in a real `giftwrap serve` ([service:NAME] trap = DURATION): a connection to any of the
// trap's ports bans its source from every service through the store and is closed at once;
// protected addresses are logged and never banned; the bans per minute are capped, and what goes
// over is summarised, not banned. Loopback clients play the scanners.
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed partial class TrapTests
{
    [Fact]
    public async Task Trap_EveryPortBansTheSourceFromEveryService_ProtectedAreLoggedNotBanned()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        dir.Write("hosts.deny", "");
        var cat = Loopback.FreePort();
        var (telnet, alt) = (Loopback.FreePort(), Loopback.FreePort());
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{cat}\nexec = /bin/cat\n" +
            $"[service:trap]\nlisten = 127.0.0.1:{telnet} 127.0.0.1:{alt}\ntrap = 1d\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\nprotect = 127.0.0.63\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        foreach (var client in new[] { "127.0.0.61", "127.0.0.62", "127.0.0.63" })
            Assert.Equal("hi\n", await GateBanTests.TalkAsync(cat, client));

        // Each trap port: closed at once with nothing said, and the source banned from cat too.
        Assert.Equal("", await GateBanTests.TalkAsync(telnet, "127.0.0.61"));
        Assert.Equal("", await GateBanTests.TalkAsync(alt, "127.0.0.62"));
        Assert.Equal("", await GateBanTests.TalkAsync(cat, "127.0.0.61"));
        Assert.Equal("", await GateBanTests.TalkAsync(cat, "127.0.0.62"));
        await gate.WaitForAsync($"trap: refused connect from 127.0.0.61 (127.0.0.61) (trap trap: banned 127.0.0.61 for 1d (offence 1))", TimeSpan.FromSeconds(10));

        // A protected address: logged, never banned, still served.
        Assert.Equal("", await GateBanTests.TalkAsync(telnet, "127.0.0.63"));
        await gate.WaitForAsync("trap trap: 127.0.0.63 is protected", TimeSpan.FromSeconds(10));
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(cat, "127.0.0.63"));

        // A banned scanner back at the trap is refused as banned: not a second offence.
        Assert.Equal("", await GateBanTests.TalkAsync(alt, "127.0.0.61"));
        await gate.WaitForAsync("trap: refused connect from 127.0.0.61 (127.0.0.61) (banned: trap trap, port", TimeSpan.FromSeconds(10));

        var bans = Bans(conf);
        Assert.Equal(["127.0.0.61", "127.0.0.62"], bans.Select(b => b.GetProperty("address").GetString()).Order(StringComparer.Ordinal));
        Assert.All(bans, b => Assert.Equal(1, b.GetProperty("offences").GetInt32()));
        Assert.All(bans, b => Assert.InRange(b.GetProperty("seconds_left").GetInt64(), 86_000, 86_400));
        Assert.Equal($"trap trap, port {telnet}", bans.Single(b => b.GetProperty("address").GetString() == "127.0.0.61").GetProperty("reason").GetString());
        Assert.Equal($"trap trap, port {alt}", bans.Single(b => b.GetProperty("address").GetString() == "127.0.0.62").GetProperty("reason").GetString());
    }

    [Fact]
    public async Task Trap_OverItsBansPerMinute_NotBanned_CountedInOneSummary()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ALL: ALL\n");
        dir.Write("hosts.deny", "");
        var trap = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = off\n" +
            $"[service:scan]\nlisten = 127.0.0.1:{trap}\ntrap = 1h\ntrap_bans_per_minute = 2\n" +
            $"[bans]\nstore = {dir.Path}/bans\nprotect_loopback = no\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        for (var i = 71; i <= 76; i++)
            Assert.Equal("", await GateBanTests.TalkAsync(trap, $"127.0.0.{i}"));

        // Two bans; the four others summarised (the first summary at once, the rest within its interval).
        for (var i = 0; i < 150 && NotBanned(gate.Stderr).Sum() < 4; i++)
            await Task.Delay(100);
        Assert.Equal(4, NotBanned(gate.Stderr).Sum());
        Assert.InRange(NotBanned(gate.Stderr).Count, 1, 3); // summarised: fewer lines than connections over the cap
        Assert.Contains("over trap_bans_per_minute = 2", gate.Stderr, StringComparison.Ordinal);
        Assert.Equal(["127.0.0.71", "127.0.0.72"], Bans(conf).Select(b => b.GetProperty("address").GetString()).Order(StringComparer.Ordinal));
        Assert.Equal(2, Regex.Count(gate.Stderr, @"\(trap scan: banned 127\.0\.0\.7\d for 1h"));
    }

    [Theory]
    [InlineData("[service:t]\nlisten = 127.0.0.1:1\ntrap = 1d\nforward = 127.0.0.1:2\n[bans]\nstore = STORE\n", "needs exactly one of forward = address:port, exec = program or trap = duration")]
    [InlineData("[service:t]\nlisten = 127.0.0.1:1\ntrap = 1d\n", "trap needs the ban store: add a [bans] section")]
    [InlineData("[service:t]\nlisten = 127.0.0.1:1\ntrap = soon\n[bans]\nstore = STORE\n", "trap")]
    public void Trap_BadConfiguration_RefusedWithThePlace(string text, string message)
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", text.Replace("STORE", Path.Combine(dir.Path, "bans"), StringComparison.Ordinal));
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, r.ExitCode);
        Assert.Contains(message, r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{conf}:", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Trap_BadDuration_OneErrorLineWithItsPlace()
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "");
        var deny = dir.Write("hosts.deny", "");
        var conf = dir.Write("giftwrap.conf", $"[service:t]\nlisten = 127.0.0.1:1\ntrap = soon\n[bans]\nstore = {Path.Combine(dir.Path, "bans")}\n");
        var serve = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, serve.ExitCode);
        Assert.Equal([$"giftwrap: {conf}:3:8: trap = soon: must be a duration such as 500ms, 30s, 10m, 2h, 1d, 1w or a number of seconds"], ErrorLines(serve.Stderr, "trap"));
        Assert.Contains("1 error(s)", serve.Stderr, StringComparison.Ordinal);
        // check reports the mistake once too; the lockout check it could not make is a warning, not a second error.
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf);
        Assert.Equal(1, check.ExitCode);
        Assert.Equal([$"{conf}:3:8: error: trap = soon: must be a duration such as 500ms, 30s, 10m, 2h, 1d, 1w or a number of seconds"], ErrorLines(check.Stdout, ": error: "));
        Assert.Contains("1 error(s), 1 warning(s)", check.Stdout, StringComparison.Ordinal);
    }

    private static List<string> ErrorLines(string output, string marker) =>
        [.. output.Split('\n').Where(l => l.Contains(marker, StringComparison.Ordinal) && !l.Contains("error(s)", StringComparison.Ordinal))];

    /// <summary>The counts of the trap's summary lines.</summary>
    private static List<int> NotBanned(string stderr) =>
        [.. SummaryLine().Matches(stderr).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))];

    [GeneratedRegex(@"trap scan: (\d+) connection\(s\) not banned")]
    private static partial Regex SummaryLine();

    private static List<JsonElement> Bans(string conf)
    {
        var r = CliRunner.Run(Path.GetDirectoryName(conf)!, "bans", "--json", "--config", conf);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        return [.. JsonDocument.Parse(r.Stdout).RootElement.Clone().EnumerateArray()];
    }
}
