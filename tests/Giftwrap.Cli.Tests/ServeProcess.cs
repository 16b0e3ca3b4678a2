// A real `giftwrap serve` for a test: started with a configuration, its stderr collected line by
// line, waits for lines that contain a text, and stopped by its pid (SIGTERM, then kill).
using System.Diagnostics;

namespace Giftwrap.Cli.Tests;

internal sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<(string Text, int Count, TaskCompletionSource Seen)> _waits = [];
    private bool _stopped;

    /// <param name="conf">The configuration file.</param>
    /// <param name="drainSeconds">--drain-seconds.</param>
    /// <param name="extra">More arguments for serve (such as --inetd FILE).</param>
    public ServeProcess(string conf, int drainSeconds, params string[] extra)
        : this(conf, drainSeconds, null, extra)
    {
    }

    /// <param name="conf">The configuration file.</param>
    /// <param name="drainSeconds">--drain-seconds.</param>
    /// <param name="prefix">A command that execs the rest in place (as `unshare -m sh -c SCRIPT`), so that the pid stays the gate's.</param>
    /// <param name="extra">More arguments for serve.</param>
    public ServeProcess(string conf, int drainSeconds, IReadOnlyList<string>? prefix, string[] extra)
    {
        string[] serve = ["dotnet", CliRunner.Dll, "serve", "--config", conf, "--drain-seconds", drainSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), .. extra];
        var command = prefix is null ? serve : [.. prefix, .. serve];
        var psi = new ProcessStartInfo(command[0], command[1..])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        _process = Process.Start(psi)!;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            lock (_lines)
            {
                _lines.Add(e.Data);
                foreach (var w in _waits.Where(w => Seen(w.Text) >= w.Count))
                    w.Seen.TrySetResult();
            }
        };
        _process.BeginErrorReadLine();
    }

    public int Id => _process.Id;

    /// <summary>Everything the gate wrote to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_lines)
                return string.Concat(_lines.Select(l => l + Environment.NewLine));
        }
    }

    /// <summary>Waits until <paramref name="count"/> lines contain <paramref name="text"/>.</summary>
    public Task WaitForAsync(string text, TimeSpan within, int count = 1)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lines)
        {
            if (Seen(text) >= count)
                return Task.CompletedTask;
            _waits.Add((text, count, seen));
        }
        return seen.Task.WaitAsync(within);
    }

    private int Seen(string text) => _lines.Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>
    /// Waits up to <paramref name="within"/> for the gate to end by itself; its exit status, or null if
    /// it still runs. Once it has ended, <see cref="Stderr"/> holds all it wrote (the wait without a
    /// bound is the one that waits for the last lines read).
    /// </summary>
    public int? ExitCode(TimeSpan within)
    {
        if (!_process.WaitForExit(within))
            return null;
        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, a drain, and kill if it has not ended within 30 s.</summary>
    public void Dispose()
    {
        if (_stopped)
            return;
        _stopped = true;
        Loopback.Signal(_process.Id, 15);
        if (!_process.WaitForExit(30_000))
            _process.Kill();
        _process.WaitForExit();
        _process.Dispose();
    }
}
