// A real `giftwrap serve` inside the test's namespace: started through nsenter (which execs
// dotnet, so the pid is serve's own), its standard error (the gate's log with syslog = off)
// collected for WaitFor and Count, and stopped with SIGTERM by its pid, as systemd stops it.
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Giftwrap.Kernel.Tests;

public sealed class GiftwrapServe : IDisposable
{
    private readonly StringBuilder _stderr = new();

    public GiftwrapServe(NetNamespace ns, string conf, IDictionary<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(ns);
        var psi = new ProcessStartInfo("nsenter", ["-t", ns.Pid.ToString(CultureInfo.InvariantCulture), "-n", "dotnet", GiftwrapInNamespace.Dll, "serve", "--config", conf])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        psi.Environment.Remove("SSH_CLIENT");
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
            psi.Environment[k] = v;
        Process = Process.Start(psi)!;
        Process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
                _stderr.Append(e.Data).Append('\n');
        };
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    public string Stderr()
    {
        lock (_stderr)
            return _stderr.ToString();
    }

    /// <summary>How many times the gate's log holds <paramref name="text"/> so far.</summary>
    public int Count(string text)
    {
        var log = Stderr();
        var n = 0;
        for (var i = log.IndexOf(text, StringComparison.Ordinal); i >= 0; i = log.IndexOf(text, i + text.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    /// <summary>Waits (30 s at most) until the gate's log holds <paramref name="text"/> <paramref name="count"/> times.</summary>
    public void WaitFor(string text, int count = 1)
    {
        var sw = Stopwatch.StartNew();
        while (Count(text) < count)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30) && !Process.HasExited, $"no \"{text}\" (x{count}) in:\n{Stderr()}");
            Thread.Sleep(50);
        }
    }

    public void Hup() => Signal("-HUP");

    /// <summary>SIGTERM by pid, then the exit status (killed after 30 s).</summary>
    public int Stop()
    {
        if (!Process.HasExited)
            Signal("-TERM");
        if (!Process.WaitForExit(30_000))
            Process.Kill();
        Process.WaitForExit();
        return Process.ExitCode;
    }

    private void Signal(string signal) =>
        Process.Start("kill", [signal, Process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }
}
