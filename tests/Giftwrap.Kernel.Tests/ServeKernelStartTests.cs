// A real `giftwrap serve` with [kernel] nftables = yes whose nft hangs (a sleep on PATH in its
// place, which notes its pid): the gate listens at once and judges every client itself (a banned
// one refused, another forwarded) while the first write waits, says once that the write is slow,
// and a SIGTERM then stops it cleanly with that nft killed and no other started.
using System.Globalization;
using System.Net;

namespace Giftwrap.Kernel.Tests;

public sealed class ServeKernelStartTests : IDisposable
{
    private readonly GiftwrapInNamespace _env = new("kernel-start", "");

    /// <summary>An nft that never answers; each run appends its pid to the returned file first.</summary>
    private (Dictionary<string, string?> Environment, string Pids) HangingNft()
    {
        var bin = Path.Combine(_env.Dir, "bin");
        Directory.CreateDirectory(bin);
        var pids = Path.Combine(_env.Dir, "nft-pids");
        var nft = Path.Combine(bin, "nft");
        // exec: the sleep is the process serve started, so a kill by its pid ends it.
        File.WriteAllText(nft, $"#!/bin/sh\necho $$ >> '{pids}'\nexec sleep 300\n");
        File.SetUnixFileMode(nft, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return (new() { ["PATH"] = $"{bin}:{Environment.GetEnvironmentVariable("PATH")}" }, pids);
    }

    [Fact]
    public void HangingNft_ServeListensAtOnce_JudgesItself_SaysSlow_StopKillsNft()
    {
        var (environment, pids) = HangingNft();
        _env.WriteServeConfig("nftables = yes");
        Assert.Equal(0, _env.Ns.Run("dotnet", GiftwrapInNamespace.Dll, "ban", "127.0.0.5", "--for", "1h", "--config", _env.Conf).ExitCode);
        using var serve = new GiftwrapServe(_env.Ns, _env.Conf, environment);
        // Within WaitFor's 30 s, while the first nft run (killed only at 60 s) still hangs.
        serve.WaitFor("listening on");
        Assert.Single(File.ReadAllLines(pids));

        // The gate's own judgement, with nothing in the kernel: the banned client refused, another served.
        Assert.True(_env.Ns.Connects(IPAddress.Parse("127.0.0.5"), IPAddress.Loopback, 2222, TimeSpan.FromSeconds(5)));
        serve.WaitFor("refused connect from 127.0.0.5");
        Assert.True(_env.Ns.Connects(IPAddress.Parse("127.0.0.6"), IPAddress.Loopback, 2222, TimeSpan.FromSeconds(5)));
        serve.WaitFor("connect from 127.0.0.6");
        Assert.DoesNotContain("refused connect from 127.0.0.6", serve.Stderr(), StringComparison.Ordinal);

        serve.WaitFor("warning: kernel: the first write of table inet giftwrap has not finished after");
        Assert.Equal(0, serve.Count("kernel: table inet giftwrap written"));
        // Stopped while nft hangs: a clean exit, the hanging nft killed by its pid, none started after it,
        // and no error said for a write the stop itself cut short.
        Assert.Equal(0, serve.Stop());
        var started = File.ReadAllLines(pids);
        var nft = Assert.Single(started);
        Assert.False(Alive(int.Parse(nft, CultureInfo.InvariantCulture)), $"nft {nft} still runs after serve stopped");
        Assert.Equal(1, serve.Count("has not finished after"));
        Assert.DoesNotContain("cannot write table", serve.Stderr(), StringComparison.Ordinal);
    }

    /// <summary>Whether <paramref name="pid"/> is a live process (not gone, not a zombie), given 5 s to go.</summary>
    private static bool Alive(int pid)
    {
        for (var i = 0; i < 100; i++)
        {
            string stat;
            try
            {
                stat = File.ReadAllText($"/proc/{pid}/stat");
            }
            catch (IOException)
            {
                return false;
            }
            // The state follows the command's closing parenthesis: Z is a zombie, dead already.
            if (stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
                return false;
            Thread.Sleep(50);
        }
        return true;
    }

    public void Dispose() => _env.Dispose();
}
