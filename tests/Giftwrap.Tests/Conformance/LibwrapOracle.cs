// The real libwrap as a test oracle: builds tests/harness/wraptest.c (or takes the
// one named by GIFTWRAP_WRAPTEST) and asks it, in one process per table pair, how
// each request is decided. CI installs gcc and libwrap0-dev, so a missing oracle
// is a failure, never a skip.
using System.Diagnostics;

namespace Giftwrap.Tests.Conformance;

public sealed record OracleAnswer(string Verdict, string Match, string Warnings);

public static class LibwrapOracle
{
    private static readonly Lazy<string> Binary = new(Locate);

    public static string Path => Binary.Value;

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "Giftwrap.slnx")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new InvalidOperationException("repository root (Giftwrap.slnx) not found above " + AppContext.BaseDirectory);
        }
    }

    private static string Locate()
    {
        var fromEnv = Environment.GetEnvironmentVariable("GIFTWRAP_WRAPTEST");
        if (!string.IsNullOrEmpty(fromEnv) && File.Exists(fromEnv))
            return fromEnv;
        var output = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"giftwrap-wraptest-{Environment.ProcessId}");
        var psi = new ProcessStartInfo("/bin/sh", [System.IO.Path.Combine(RepoRoot, "tests", "harness", "build.sh"), output])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(output))
            throw new InvalidOperationException($"cannot build the libwrap harness (install gcc and libwrap0-dev): {err}");
        return output;
    }

    /// <summary>Asks libwrap about each request line (the 7-field batch format) against the two tables.</summary>
    public static List<OracleAnswer> Ask(string allow, string deny, IReadOnlyList<string> requests, bool fork = true)
    {
        var args = new List<string>();
        if (!fork)
            args.Add("--nofork");
        args.Add("--timeout");
        args.Add("10");
        args.Add(allow);
        args.Add(deny);
        var psi = new ProcessStartInfo(Path, args)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // One char per byte both ways, as the tables are written: names may hold any byte.
            StandardInputEncoding = System.Text.Encoding.Latin1,
            StandardOutputEncoding = System.Text.Encoding.Latin1,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var writer = Task.Run(() =>
        {
            foreach (var r in requests)
                p.StandardInput.Write(r + "\n");
            p.StandardInput.Close();
        });
        var answers = new List<OracleAnswer>(requests.Count);
        string? line;
        while ((line = p.StandardOutput.ReadLine()) is not null)
        {
            var f = line.Split('\t');
            answers.Add(new OracleAnswer(f[0], f.Length > 1 ? f[1] : "-", f.Length > 2 ? f[2] : "-"));
        }
        writer.Wait();
        p.WaitForExit();
        if (answers.Count != requests.Count)
            throw new InvalidOperationException($"harness answered {answers.Count} of {requests.Count} requests: {stderr.Result}");
        return answers;
    }
}
