// Shared test helpers: a temporary store directory, a clock the test moves by hand, and
// the ban commands run as a real process (BanHost: the CLI's BanCommands in a program of its own).
using System.Diagnostics;
using System.Text;

namespace Giftwrap.Bans.Tests;

public sealed class ManualTime(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = start;

    public override DateTimeOffset GetUtcNow() => Now;

    public void Advance(TimeSpan by) => Now += by;
}

public sealed class TempStore : IDisposable
{
    public TempStore() => Dir = Directory.CreateTempSubdirectory("giftwrap-bans-").FullName;

    public string Dir { get; }

    public string StoreDir => Path.Combine(Dir, "store");

    public BanOptions Options(ManualTime? time = null) =>
        new() { Store = StoreDir, Origin = "test-host", Time = time ?? (TimeProvider)TimeProvider.System };

    public string Config(string extra = "")
    {
        var path = Path.Combine(Dir, "giftwrap.conf");
        File.WriteAllText(path, $"[bans]\nstore = {StoreDir}   ; where the journal lives\n{extra}");
        return path;
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

public sealed record CliResult(int ExitCode, string Stdout, string Stderr);

public static class BanCli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "Giftwrap.BanHost.dll");

    public static ProcessStartInfo StartInfo(IDictionary<string, string?>? environment, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet", [Dll, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
            psi.Environment[k] = v;
        return psi;
    }

    public static CliResult Run(params string[] args) => RunWith(null, args);

    public static CliResult RunWith(IDictionary<string, string?>? environment, params string[] args)
    {
        using var p = Process.Start(StartInfo(environment, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("the ban command did not finish in 120 s");
        }
        return new CliResult(p.ExitCode, stdout.Result, stderr.Result);
    }
}
