// Runs a program to its end and captures what it printed: dotnet, git, the scripts, the
// published binary, man. A hang guard only (no test depends on how long anything takes).
using System.Diagnostics;
using System.Text;

namespace Giftwrap.Packaging.Tests;

internal sealed record RunResult(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The result, or an exception carrying the whole output when the program failed.</summary>
    public RunResult Succeeded() => ExitCode == 0
        ? this
        : throw new InvalidOperationException($"{Command} exited with {ExitCode}\n{Stdout}\n{Stderr}");
}

internal static class Run
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(15);

    public static RunResult Program(string fileName, IEnumerable<string> args, string workingDirectory,
        IReadOnlyDictionary<string, string?>? environment = null, string? stdin = null, bool cleanEnvironment = false)
    {
        var psi = new ProcessStartInfo(fileName, args)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (cleanEnvironment)
            psi.Environment.Clear();
        // The caller's SSH session must not take part in lockout checks.
        psi.Environment.Remove("SSH_CONNECTION");
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null)
                psi.Environment.Remove(k);
            else
                psi.Environment[k] = v;
        }
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
            p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var command = $"{fileName} {string.Join(' ', psi.ArgumentList)}";
        if (!p.WaitForExit(HangGuard))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{command} still ran after {HangGuard}");
        }
        return new RunResult(command, p.ExitCode, stdout.Result, stderr.Result);
    }
}
