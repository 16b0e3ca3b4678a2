// Runs the nft program: a script through `nft -f -` over a pipe (one process and one
// netlink transaction per batch, never a shell nor a process per element), and the JSON
// listing of Giftwrap's table. The pid of every nft started here is remembered, so the
// monitor can tell Giftwrap's own transactions from foreign ones.
// Every run is bounded in time; a hung nft is killed by its pid.
using System.Collections.Concurrent;
using System.ComponentModel;
using System.Diagnostics;

namespace Giftwrap.Kernel;

/// <summary>What one nft run gave: its exit status, its output and its error text.</summary>
internal sealed record NftResult(int ExitCode, string Stdout, string Stderr)
{
    public bool Succeeded => ExitCode == 0;

    /// <summary>The first line of nft's complaint, for a log line.</summary>
    public string Error => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? $"nft exited with status {ExitCode}";
}

/// <param name="command">The command that runs nft, as argv.</param>
/// <param name="limit">How long one run may take (default 60 s; tests make it shorter).</param>
internal sealed class Nft(IReadOnlyList<string> command, TimeSpan? limit = null)
{
    private readonly TimeSpan _limit = limit ?? TimeSpan.FromSeconds(60);
    private readonly ConcurrentDictionary<int, long> _ours = new();

    /// <summary>True when <paramref name="pid"/> is an nft this process started (in the last few minutes).</summary>
    public bool IsOurs(int pid) => _ours.ContainsKey(pid);

    /// <summary>Sends <paramref name="script"/> to `nft -f -` as one transaction.</summary>
    public Task<NftResult> ApplyAsync(string script, CancellationToken ct) => RunAsync(["-f", "-"], script, ct);

    /// <summary>Has the kernel check <paramref name="script"/> as one transaction and abort it (`nft -c`): nothing is committed.</summary>
    public Task<NftResult> CheckAsync(string script, CancellationToken ct) => RunAsync(["-c", "-f", "-"], script, ct);

    /// <summary>Giftwrap's table in nft's JSON (exit status 1 and "No such file or directory" when it is absent).</summary>
    public Task<NftResult> ListAsync(CancellationToken ct) => RunAsync(["-j", "list", "table", "inet", KernelOptions.Table], null, ct);

    /// <summary>Starts `nft monitor` (all events, with the generation lines that name the process behind each change).</summary>
    public Process StartMonitor()
    {
        var psi = Start(["monitor"], redirectInput: false);
        return Process.Start(psi) ?? throw new Win32Exception("nft monitor did not start");
    }

    public async Task<NftResult> RunAsync(IReadOnlyList<string> args, string? stdin, CancellationToken ct)
    {
        Process process;
        try
        {
            process = Process.Start(Start(args, redirectInput: true)) ?? throw new Win32Exception("nft did not start");
        }
        catch (Win32Exception ex)
        {
            // nft missing or not executable: a value, so the caller logs it and keeps serving.
            return new NftResult(127, "", $"cannot run {command[0]}: {ex.Message}");
        }
        using (process)
        {
            Remember(process.Id);
            var stdout = process.StandardOutput.ReadToEndAsync(ct);
            var stderr = process.StandardError.ReadToEndAsync(ct);
            // The bound covers the script's write as well as the wait: an nft that hangs before
            // reading a script larger than the pipe's buffer would otherwise hold the write (and
            // the kernel side's lock) for ever. Killing it breaks the pipe under the write.
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bound.CancelAfter(_limit);
            using var kill = bound.Token.Register(() => Kill(process));
            try
            {
                await WriteAsync(process, stdin, bound.Token).ConfigureAwait(false);
                await process.WaitForExitAsync(bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Hung or stopped with the gate: killed by its pid, never by name.
                Kill(process);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                return new NftResult(124, "", ct.IsCancellationRequested ? "stopped" : $"nft took longer than {_limit.TotalSeconds} s; killed");
            }
            return new NftResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
    }

    private static async Task WriteAsync(Process process, string? stdin, CancellationToken ct)
    {
        try
        {
            if (stdin is not null)
                await process.StandardInput.WriteAsync(stdin.AsMemory(), ct).ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // nft exited (or was killed at the limit) before reading all of it: its status, or the limit, says why.
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // It exited meanwhile.
        }
    }

    private ProcessStartInfo Start(IReadOnlyList<string> args, bool redirectInput)
    {
        var psi = new ProcessStartInfo(command[0])
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in command.Skip(1).Concat(args))
            psi.ArgumentList.Add(a);
        return psi;
    }

    private void Remember(int pid)
    {
        var now = Environment.TickCount64;
        _ours[pid] = now;
        // Pids are reused: an entry older than five minutes no longer names our nft.
        if (_ours.Count > 256)
        {
            foreach (var (p, at) in _ours)
            {
                if (now - at > 300_000)
                    _ours.TryRemove(p, out _);
            }
        }
    }
}
