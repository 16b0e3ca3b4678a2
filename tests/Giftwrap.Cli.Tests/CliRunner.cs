// Runs the real `giftwrap` program (the built giftwrap.dll next to the tests) as a
// child process, with stdin fed from a string or a stream, and captures its output.
using System.Diagnostics;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

public static class CliRunner
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "giftwrap.dll");

    public static CliResult Run(string workingDirectory, params string[] args) => Feed(workingDirectory, null, args);

    public static CliResult RunWithInput(string workingDirectory, string stdin, params string[] args) =>
        Feed(workingDirectory, w => w.Write(stdin), args);

    public static CliResult Feed(string workingDirectory, Action<StreamWriter>? feed, params string[] args) =>
        FeedWith(workingDirectory, feed, null, args);

    /// <summary>Runs with extra environment variables (and never the caller's own $SSH_CONNECTION).</summary>
    public static CliResult FeedWith(string workingDirectory, Action<StreamWriter>? feed, IDictionary<string, string>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Dll, .. args])
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        feed?.Invoke(p.StandardInput);
        p.StandardInput.Close();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("giftwrap did not finish in 120 s");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}

public sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("giftwrap-cli-").FullName;

    public string Path { get; }

    public string Write(string name, string text)
    {
        var p = System.IO.Path.Combine(Path, name);
        File.WriteAllText(p, text);
        return p;
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
