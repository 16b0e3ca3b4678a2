// [log] console, as giftwrap.conf(5) says: with syslog on and the console being the systemd journal
// (JOURNAL_STREAM naming the gate's own stderr), auto keeps the connection lines off the console, which
// journald would store a second time; anywhere else auto is on. JOURNAL_STREAM is set here as systemd
// sets it, from the real descriptor: the shell that execs the gate stats its own fd 2 (or fd 1).
// The gate's own lines, errors, and lines syslog did not take stay on the console in every mode.
using System.Net.Sockets;

namespace Giftwrap.Cli.Tests;

public sealed class ServeLogConsoleTests
{
    /// <summary>The shell that execs the gate with JOURNAL_STREAM naming its stderr (the journal), its stdout, or nothing.</summary>
    private static string[] Prefix(string journal) =>
    [
        "sh", "-c",
        journal switch
        {
            "stderr" => "export JOURNAL_STREAM=\"$(stat -L -c %d:%i /proc/$$/fd/2)\"; exec \"$@\"",
            "stdout" => "export JOURNAL_STREAM=\"$(stat -L -c %d:%i /proc/$$/fd/1)\"; exec \"$@\"",
            _ => "unset JOURNAL_STREAM; exec \"$@\"",
        },
        "sh",
    ];

    [Theory]
    [InlineData("auto", "stderr", false)]
    [InlineData("auto", "stdout", true)]
    [InlineData("auto", "none", true)]
    [InlineData("on", "stderr", true)]
    [InlineData("off", "none", false)]
    public async Task Serve_Console_DecisionsOnSyslog_AndOnTheConsoleAsTheModeSays(string mode, string journal, bool onConsole)
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "cat: 127.0.0.72\n");
        using var log = SyslogSocket(dir, out var socketPath);
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {socketPath}\nconsole = {mode}\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        using var gate = new ServeProcess(conf, 1, Prefix(journal), []);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(port, "127.0.0.71"));
        Assert.Equal("", await GateBanTests.TalkAsync(port, "127.0.0.72"));

        var datagrams = await ServeLogTests.ReceiveAsync(log, TimeSpan.FromSeconds(10), wanted: 2);
        Assert.Contains(datagrams, d => d.EndsWith(": connect from 127.0.0.71 (127.0.0.71)", StringComparison.Ordinal));
        Assert.Contains(datagrams, d => d.EndsWith(": refused connect from 127.0.0.72 (127.0.0.72)", StringComparison.Ordinal));
        // A line of the gate's own after the decisions: the console is written in order, so what it has
        // before this line is all it will ever have of them.
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync("configuration reloaded", TimeSpan.FromSeconds(30));
        var console = gate.Stderr;
        Assert.Equal(onConsole, console.Contains(">cat: connect from 127.0.0.71 (127.0.0.71)", StringComparison.Ordinal));
        Assert.Equal(onConsole, console.Contains(">cat: refused connect from 127.0.0.72 (127.0.0.72)", StringComparison.Ordinal));
        Assert.Equal(!onConsole, console.Contains($"connection lines go to syslog ({socketPath}) only", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_ConsoleOff_ErrorsStillOnTheConsole()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "");
        using var log = SyslogSocket(dir, out var socketPath);
        var port = Loopback.FreePort();
        var closed = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {socketPath}\nconsole = off\n" +
            $"[service:web]\nlisten = 127.0.0.1:{port}\nforward = 127.0.0.1:{closed}\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        Assert.Equal("", await GateBanTests.TalkAsync(port, "127.0.0.73"));

        await gate.WaitForAsync("web: error: cannot connect to backend", TimeSpan.FromSeconds(30));
        var datagrams = await ServeLogTests.ReceiveAsync(log, TimeSpan.FromSeconds(10), wanted: 1);
        Assert.Contains(datagrams, d => d.EndsWith(": connect from 127.0.0.73 (127.0.0.73)", StringComparison.Ordinal));
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync("configuration reloaded", TimeSpan.FromSeconds(30));
        Assert.DoesNotContain("connect from 127.0.0.73", gate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_ConsoleOff_SyslogNotListening_TheConsoleTakesTheLines()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "");
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {dir.Path}/no-syslog-here\nconsole = off\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(port, "127.0.0.74"));

        await gate.WaitForAsync(">cat: connect from 127.0.0.74 (127.0.0.74)", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Serve_ReloadChangesConsole_KeptUntilRestart_AndSaidSo()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "");
        using var log = SyslogSocket(dir, out var socketPath);
        var port = Loopback.FreePort();
        string Conf(string mode) =>
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {socketPath}\nconsole = {mode}\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n";
        var conf = dir.Write("giftwrap.conf", Conf("on"));
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));

        dir.Write("giftwrap.conf", Conf("off"));
        Assert.Equal(0, Loopback.Signal(gate.Id, 1));
        await gate.WaitForAsync($"warning: {conf}:6:11: [log] console changed; the running gate keeps on until it is restarted", TimeSpan.FromSeconds(30));
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(port, "127.0.0.75"));
        await gate.WaitForAsync(">cat: connect from 127.0.0.75 (127.0.0.75)", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void ServeAndCheck_ConsoleOffSyslogOff_RefusedAtTheConsoleLine()
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "");
        var deny = dir.Write("hosts.deny", "");
        var conf = dir.Write("giftwrap.conf", $"[log]\nsyslog = off\nconsole = off\n[service:t]\nlisten = 127.0.0.1:{Loopback.FreePort()}\nforward = 127.0.0.1:2\n");
        var message = $"{conf}:3:11: console = off with syslog = off (at {conf}:2:10): decisions would be logged nowhere; turn one of them on";

        // A real start, not only --check-config: nothing listens, EX_CONFIG.
        var serve = CliRunner.Run(dir.Path, "serve", "--config", conf);
        Assert.Equal(78, serve.ExitCode);
        Assert.Contains($"giftwrap: {message}\n", serve.Stderr, StringComparison.Ordinal);
        Assert.Contains("1 error(s) in the configuration; nothing started", serve.Stderr, StringComparison.Ordinal);
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.Equal(1, check.ExitCode);
        Assert.Contains(message.Replace($"{conf}:3:11: ", $"{conf}:3:11: error: ", StringComparison.Ordinal), check.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("journal")]
    [InlineData("1")]
    public void ServeAndCheck_ConsoleBadValue_ErrorAtItsPlace(string value)
    {
        using var dir = new TempDir();
        var allow = dir.Write("hosts.allow", "");
        var deny = dir.Write("hosts.deny", "");
        var conf = dir.Write("giftwrap.conf", $"[service:t]\nlisten = 127.0.0.1:1\nforward = 127.0.0.1:2\n[log]\nconsole = {value}\n");
        var serve = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, serve.ExitCode);
        Assert.Contains($"giftwrap: {conf}:5:11: console = {value}: expected auto, on or off\n", serve.Stderr, StringComparison.Ordinal);
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny, "--config", conf, "--no-dns");
        Assert.Equal(1, check.ExitCode);
        Assert.Contains($"{conf}:5:11: error: console = {value}: expected auto, on or off", check.Stdout, StringComparison.Ordinal);
    }

    /// <summary>A syslog socket of the test's own, as /dev/log is (a Unix datagram socket).</summary>
    private static Socket SyslogSocket(TempDir dir, out string path)
    {
        path = Path.Combine(dir.Path, "log");
        return SyslogListener.Bind(path);
    }
}
