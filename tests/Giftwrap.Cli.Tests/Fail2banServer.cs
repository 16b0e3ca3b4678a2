// A real Fail2ban (Debian's fail2ban 1.0.2) for a test: fail2ban-server in the foreground with a
// configuration directory, socket, pid file, log and sqlite database of its own in a temp dir;
// Debian's stock sshd filter (and the common.conf it includes) copied in unchanged, and the
// shipped examples/fail2ban action, which bans through the `giftwrap` under test. Driven with
// fail2ban-client on that socket; stopped by its pid (SIGTERM, then kill).
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Giftwrap.Cli.Tests;

internal sealed partial class Fail2banServer : IDisposable
{
    private const string StockFilters = "/etc/fail2ban/filter.d";
    private readonly string _dir;
    private Process? _process;

    /// <param name="dir">A directory of the test's own (config, socket, database and log go under it).</param>
    /// <param name="jails">Each jail: its name, the log file it reads, and its bantime in seconds.</param>
    /// <param name="giftwrapConfig">The giftwrap.conf the action bans through.</param>
    public Fail2banServer(string dir, IEnumerable<(string Name, string LogPath, int BanTime)> jails, string giftwrapConfig)
    {
        _dir = dir;
        var conf = Directory.CreateDirectory(Path.Combine(dir, "fail2ban")).FullName;
        var filters = Directory.CreateDirectory(Path.Combine(conf, "filter.d")).FullName;
        var actions = Directory.CreateDirectory(Path.Combine(conf, "action.d")).FullName;
        Assert.True(File.Exists(Path.Combine(StockFilters, "sshd.conf")), $"{StockFilters}/sshd.conf is missing: apt-get install fail2ban (scripts/test.sh does)");
        foreach (var f in new[] { "sshd.conf", "common.conf" })
            File.Copy(Path.Combine(StockFilters, f), Path.Combine(filters, f));
        File.Copy(ShippedAction, Path.Combine(actions, "giftwrap.conf"));
        // DEBUG: the log then shows what each action's command printed and how it ended.
        File.WriteAllText(Path.Combine(conf, "fail2ban.conf"),
            $"[Definition]\nloglevel = DEBUG\nlogtarget = {LogFile}\nsocket = {Socket}\npidfile = {PidFile}\ndbfile = {Path.Combine(dir, "fail2ban.sqlite3")}\ndbpurgeage = 1d\n");
        // The action runs this test's giftwrap.dll; loopback clients play the attackers, so nothing is ignored.
        var giftwrap = $"dotnet {CliRunner.Dll}";
        var jail = "[DEFAULT]\nignoreself = false\nignoreip =\nbackend = polling\nmaxretry = 3\nfindtime = 10m\n";
        foreach (var (name, log, banTime) in jails)
            jail += $"[{name}]\nenabled = true\nfilter = sshd\nlogpath = {log}\nbantime = {banTime}\naction = giftwrap[giftwrap=\"{giftwrap}\", config=\"{giftwrapConfig}\"]\n";
        File.WriteAllText(Path.Combine(conf, "jail.conf"), jail);
        ConfDir = conf;
    }

    /// <summary>examples/fail2ban/action.d/giftwrap.conf of this checkout.</summary>
    public static string ShippedAction
    {
        get
        {
            for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                var p = Path.Combine(d.FullName, "examples", "fail2ban", "action.d", "giftwrap.conf");
                if (File.Exists(p))
                    return p;
            }
            throw new FileNotFoundException("examples/fail2ban/action.d/giftwrap.conf not found above the test's directory");
        }
    }

    public string ConfDir { get; }
    public string Socket => Path.Combine(_dir, "fail2ban.sock");
    public string PidFile => Path.Combine(_dir, "fail2ban.pid");
    public string LogFile => Path.Combine(_dir, "fail2ban.log");

    /// <summary>Fail2ban's own log so far.</summary>
    public string Log => File.Exists(LogFile) ? File.ReadAllText(LogFile) : "";

    /// <summary>Starts fail2ban-server in the foreground and waits until every jail has started.</summary>
    public async Task StartAsync(int jails)
    {
        var started = Regex.Count(Log, "Jail '[^']+' started");
        var psi = new ProcessStartInfo("fail2ban-server", ["-f", "-x", "-c", ConfDir, "-s", Socket, "-p", PidFile])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // The action's `giftwrap ban` refuses the address of an SSH session it runs in: not this one's.
        psi.Environment.Remove("SSH_CONNECTION");
        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitForAsync(l => Regex.Count(l, "Jail '[^']+' started") >= started + jails, "the jails to start");
    }

    /// <summary>Stops fail2ban-server by its pid: SIGTERM, as systemd stops it, and kill after 30 s.</summary>
    public void Stop()
    {
        if (_process is not { } p)
            return;
        _process = null;
        Loopback.Signal(p.Id, 15);
        if (!p.WaitForExit(30_000))
            p.Kill(entireProcessTree: true);
        p.WaitForExit();
        p.Dispose();
    }

    /// <summary>fail2ban-client on this server's socket; its output, after asserting it succeeded.</summary>
    public string Client(params string[] args)
    {
        var psi = new ProcessStartInfo("fail2ban-client", ["-c", ConfDir, "-s", Socket, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"fail2ban-client {string.Join(' ', args)} did not finish in 60 s");
        }
        Assert.True(p.ExitCode == 0, $"fail2ban-client {string.Join(' ', args)} exited {p.ExitCode}: {stdout.Result}{stderr.Result}");
        return stdout.Result;
    }

    /// <summary>Waits (at most 60 s, polling Fail2ban's log) until <paramref name="done"/> holds for the log.</summary>
    public async Task WaitForAsync(Func<string, bool> done, string what)
    {
        for (var i = 0; i < 600; i++)
        {
            if (done(Log))
                return;
            Assert.False(_process is { HasExited: true }, $"fail2ban-server exited while waiting for {what}:\n{Log}");
            await Task.Delay(100);
        }
        Assert.Fail($"no {what} within 60 s; Fail2ban's log:\n{Log}");
    }

    /// <summary>
    /// Waits until a command of the action has printed a line with <paramref name="text"/> on its stdout and
    /// ended successfully (at DEBUG, Fail2ban logs "ID -- stdout: '...'" and then "ID -- returned successfully").
    /// </summary>
    public Task WaitForActionAsync(string text) => WaitForAsync(log =>
    {
        var said = log.Split('\n').LastOrDefault(l => l.Contains("-- stdout:", StringComparison.Ordinal) && l.Contains(text, StringComparison.Ordinal));
        return said is not null && CommandId().Match(said) is { Success: true } m && log.Contains($"{m.Groups[1].Value} -- returned successfully", StringComparison.Ordinal);
    }, $"action that says \"{text}\" to succeed");

    [GeneratedRegex(@"\b([0-9a-f]+) -- stdout:")]
    private static partial Regex CommandId();

    /// <summary>A line as sshd writes it to auth.log through syslog, with the time now (Fail2ban reads that date).</summary>
    public static string FailedPassword(string client, int pid) =>
        $"{DateTime.Now.ToString("MMM dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)} testhost sshd[{pid}]: Failed password for root from {client} port {40000 + pid} ssh2\n";

    public void Dispose() => Stop();
}
