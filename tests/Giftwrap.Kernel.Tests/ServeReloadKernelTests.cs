// SIGHUP of a real `giftwrap serve` inside the test's network namespace, with real nftables:
// [kernel] turned on by a reload writes the table, new ports bring their address rules in one
// transaction, a broken [kernel] is refused with file:line and the running table kept, and
// nftables = no removes the table. Each step waits for the gate's own log line.
using System.Globalization;

namespace Giftwrap.Kernel.Tests;

public sealed class ServeReloadKernelTests : IDisposable
{
    private readonly GiftwrapInNamespace _env = new("kernel-reload", "sshd: 127.0.9.0/24\n");

    private string Conf => _env.Conf;

    private void Write(string kernel) => _env.WriteServeConfig(kernel);

    [NfTablesFact]
    public void Reload_KernelSection_StartsReconfiguresRefusesAndStops()
    {
        var port = _env.Listener.Port.ToString(CultureInfo.InvariantCulture);
        Write("nftables = no");
        Assert.Equal(0, _env.Ns.Run("dotnet", GiftwrapInNamespace.Dll, "ban", "127.0.0.5", "--for", "1h", "--config", Conf).ExitCode);
        using var serve = new GiftwrapServe(_env.Ns, Conf);
        // Off at the start: no table, the banned source reaches the port.
        serve.WaitFor("listening on");
        serve.Hup();
        serve.WaitFor("configuration reloaded");
        Assert.DoesNotContain("giftwrap", _env.Ruleset(), StringComparison.Ordinal);
        Assert.True(_env.From("127.0.0.5"));

        // Turned on by a reload: the ban is in the kernel, with the echo service's address rules (none refused).
        Write("nftables = yes");
        serve.Hup();
        serve.WaitFor("kernel: table inet giftwrap written: 1 ban element(s), 1 daemon port(s)");
        Assert.False(_env.From("127.0.0.5"));
        Assert.True(_env.From("127.0.9.1"));

        // New ports: the bans narrow to the port, and sshd's address rules come in with them.
        Write($"nftables = yes\nports = sshd:{port}\nreconcile = 30s");
        serve.Hup();
        serve.WaitFor("kernel: reloaded: table inet giftwrap written: 1 ban element(s), 2 daemon port(s)");
        Assert.False(_env.From("127.0.9.1"));
        Assert.True(_env.From("127.0.8.1"));
        Assert.Contains("127.0.9.0/24", _env.Ruleset(), StringComparison.Ordinal);

        // A broken [kernel]: refused with its place, the running table kept as it was.
        Write($"nftables = yes\nports = sshd:99999");
        serve.Hup();
        serve.WaitFor("reload refused");
        Assert.Contains($"{Conf}:18:", serve.Stderr(), StringComparison.Ordinal);
        Assert.Contains("sshd:99999", serve.Stderr(), StringComparison.Ordinal);
        Assert.False(_env.From("127.0.9.1"));
        Assert.False(_env.From("127.0.0.5"));

        // Turned off: the table goes.
        Write("nftables = no");
        serve.Hup();
        serve.WaitFor("kernel: nftables = no: table inet giftwrap removed");
        Assert.DoesNotContain("giftwrap", _env.Ruleset(), StringComparison.Ordinal);
        Assert.True(_env.From("127.0.0.5"));
        // A stop by SIGTERM is a clean exit (on a failure above, Dispose stops it).
        Assert.Equal(0, serve.Stop());
    }

    public void Dispose() => _env.Dispose();
}
