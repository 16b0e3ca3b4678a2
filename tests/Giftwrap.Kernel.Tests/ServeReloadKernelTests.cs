// SIGHUP of a real `giftwrap serve` inside the test's network namespace, with real nftables:
// [kernel] turned on by a reload writes the table, new ports bring their address rules in one
// transaction, a broken [kernel] is refused with file:line and the running table kept, and
// nftables = no removes the table. Each step waits for the gate's own log line.
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Giftwrap.Kernel.Tests;

public sealed class ServeReloadKernelTests : IDisposable
{
    private readonly GiftwrapInNamespace _env = new("kernel-reload", "sshd: 127.0.9.0/24\n");
    private readonly StringBuilder _stderr = new();

    private string Conf => Path.Combine(_env.Dir, "giftwrap.conf");

    private void Write(string kernel) =>
        File.WriteAllText(Conf, $"""
            [tables]
            allow = {_env.Dir}/hosts.allow
            deny = {_env.Dir}/hosts.deny

            [bans]
            store = {_env.Dir}/store
            protect_loopback = no

            [log]
            syslog = off

            [service:echo]
            listen = 127.0.0.1:2222
            forward = 127.0.0.1:{_env.Listener.Port}

            [kernel]
            {kernel}

            """);

    private string Stderr()
    {
        lock (_stderr)
            return _stderr.ToString();
    }

    /// <summary>Waits until the gate's log holds <paramref name="text"/> <paramref name="count"/> times.</summary>
    private void WaitFor(Process serve, string text, int count = 1)
    {
        var sw = Stopwatch.StartNew();
        while (CountOf(Stderr(), text) < count)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30) && !serve.HasExited, $"no \"{text}\" (x{count}) in:\n{Stderr()}");
            Thread.Sleep(50);
        }
    }

    private static int CountOf(string haystack, string needle)
    {
        var n = 0;
        for (var i = haystack.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
            n++;
        return n;
    }

    private static void Hup(Process serve) =>
        Process.Start("kill", ["-HUP", serve.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();

    [NfTablesFact]
    public void Reload_KernelSection_StartsReconfiguresRefusesAndStops()
    {
        var port = _env.Listener.Port.ToString(CultureInfo.InvariantCulture);
        Write("nftables = no");
        Assert.Equal(0, _env.Ns.Run("dotnet", GiftwrapInNamespace.Dll, "ban", "127.0.0.5", "--for", "1h", "--config", Conf).ExitCode);
        var psi = new ProcessStartInfo("nsenter", ["-t", _env.Ns.Pid.ToString(CultureInfo.InvariantCulture), "-n", "dotnet", GiftwrapInNamespace.Dll, "serve", "--config", Conf])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        psi.Environment.Remove("SSH_CLIENT");
        using var serve = Process.Start(psi)!;
        serve.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
                _stderr.Append(e.Data).Append('\n');
        };
        serve.BeginErrorReadLine();
        try
        {
            // Off at the start: no table, the banned source reaches the port.
            WaitFor(serve, "listening on");
            Hup(serve);
            WaitFor(serve, "configuration reloaded");
            Assert.DoesNotContain("giftwrap", _env.Ruleset(), StringComparison.Ordinal);
            Assert.True(_env.From("127.0.0.5"));

            // Turned on by a reload: the ban is in the kernel, with the echo service's address rules (none refused).
            Write("nftables = yes");
            Hup(serve);
            WaitFor(serve, "kernel: table inet giftwrap written: 1 ban element(s), 1 daemon port(s)");
            Assert.False(_env.From("127.0.0.5"));
            Assert.True(_env.From("127.0.9.1"));

            // New ports: the bans narrow to the port, and sshd's address rules come in with them.
            Write($"nftables = yes\nports = sshd:{port}\nreconcile = 30s");
            Hup(serve);
            WaitFor(serve, "kernel: reloaded: table inet giftwrap written: 1 ban element(s), 2 daemon port(s)");
            Assert.False(_env.From("127.0.9.1"));
            Assert.True(_env.From("127.0.8.1"));
            Assert.Contains("127.0.9.0/24", _env.Ruleset(), StringComparison.Ordinal);

            // A broken [kernel]: refused with its place, the running table kept as it was.
            Write($"nftables = yes\nports = sshd:99999");
            Hup(serve);
            WaitFor(serve, "reload refused");
            Assert.Contains($"{Conf}:18:", Stderr(), StringComparison.Ordinal);
            Assert.Contains("sshd:99999", Stderr(), StringComparison.Ordinal);
            Assert.False(_env.From("127.0.9.1"));
            Assert.False(_env.From("127.0.0.5"));

            // Turned off: the table goes.
            Write("nftables = no");
            Hup(serve);
            WaitFor(serve, "kernel: nftables = no: table inet giftwrap removed");
            Assert.DoesNotContain("giftwrap", _env.Ruleset(), StringComparison.Ordinal);
            Assert.True(_env.From("127.0.0.5"));
        }
        finally
        {
            Process.Start("kill", ["-TERM", serve.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!serve.WaitForExit(30_000))
                serve.Kill();
        }
        Assert.Equal(0, serve.ExitCode);
    }

    public void Dispose() => _env.Dispose();
}
