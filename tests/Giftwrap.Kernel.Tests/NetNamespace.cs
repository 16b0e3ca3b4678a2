// A network namespace of the test's own (unshare -n, held by a sleep the test kills by
// pid), with loopback up: nft and giftwrap run in it through nsenter, and sockets are
// made in it by a short-lived thread that joined it with setns(2), so the test's own
// connections cross the namespace's hooks. Traffic stays on its loopback, or on veth pairs
// between namespaces of the test's own.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Giftwrap.Kernel.Tests;

public sealed record ProcessRun(int ExitCode, string Stdout, string Stderr);

public sealed partial class NetNamespace : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly Process _holder;

    private NetNamespace(Process holder)
    {
        _holder = holder;
        Pid = holder.Id;
    }

    public int Pid { get; }

    /// <summary>nft inside the namespace, as argv for <see cref="KernelOptions.Nft"/>.</summary>
    public IReadOnlyList<string> Nft => ["nsenter", "-t", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", "nft"];

    public static NetNamespace Create()
    {
        // Bounded: the holder ends by itself after 10 minutes should the test die without Dispose.
        // The holder brings loopback up itself, then becomes the sleep: once its name is "sleep", the namespace is ready.
        var holder = Process.Start(new ProcessStartInfo("unshare", ["--net", "--", "sh", "-c", "ip link set lo up && exec sleep 600"]) { UseShellExecute = false })!;
        var ns = new NetNamespace(holder);
        var ours = File.ResolveLinkTarget("/proc/self/ns/net", false)?.ToString();
        var deadline = Stopwatch.StartNew();
        string? theirs = null;
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                theirs = File.ResolveLinkTarget($"/proc/{ns.Pid}/ns/net", false)?.ToString();
            }
            catch (IOException)
            {
                // Not there yet.
            }
            if (theirs is not null && theirs != ours && Comm(ns.Pid) == "sleep")
                break;
            Thread.Sleep(10);
        }
        // Never go on in the machine's own namespace: the tests flush rulesets.
        if (theirs is null || theirs == ours || Comm(ns.Pid) != "sleep")
        {
            ns.Dispose();
            throw new InvalidOperationException("unshare --net did not make a network namespace with loopback up within 30 s");
        }
        ns.WaitForLoopback();
        return ns;
    }

    private static string? Comm(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/comm").Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Loopback answers inside the namespace (its local routes are there) before any test traffic.</summary>
    private void WaitForLoopback()
    {
        using var probe = Listen();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (Connects(IPAddress.Loopback, IPAddress.Loopback, probe.Port, TimeSpan.FromSeconds(5)))
                    return;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.NetworkUnreachable && sw.Elapsed < TimeSpan.FromSeconds(10))
            {
                // lo is coming up.
            }
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
                throw new InvalidOperationException("loopback does not answer inside the test's namespace");
            Thread.Sleep(20);
        }
    }

    /// <summary>Runs a program inside the namespace (bounded to 60 s).</summary>
    public ProcessRun Run(IDictionary<string, string?>? environment, params string[] command)
    {
        var psi = new ProcessStartInfo("nsenter", ["-t", Pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", .. command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        psi.Environment.Remove("SSH_CLIENT");
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
            psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill();
            p.WaitForExit();
        }
        return new ProcessRun(p.ExitCode, stdout.Result, stderr.Result);
    }

    public ProcessRun Run(params string[] command) => Run(null, command);

    /// <summary>A veth pair: <paramref name="here"/> in this namespace, <paramref name="there"/> in <paramref name="other"/> (both down, no address).</summary>
    public void Veth(string here, NetNamespace other, string there) =>
        Must("ip", "link", "add", here, "type", "veth", "peer", "name", there, "netns", other.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public ProcessRun Must(params string[] command)
    {
        var r = Run(command);
        Assert.True(r.ExitCode == 0, $"{string.Join(' ', command)}: {r.ExitCode}: {r.Stderr}");
        return r;
    }

    /// <summary>A socket made inside the namespace (its namespace is fixed when it is made).</summary>
    public Socket Socket(AddressFamily family)
    {
        Socket? made = null;
        Exception? failure = null;
        var t = new Thread(() =>
        {
            try
            {
                using var fd = File.OpenHandle($"/proc/{Pid}/ns/net");
                if (SetNs((int)fd.DangerousGetHandle(), CloneNewNet) != 0)
                    throw new IOException($"setns: errno {Marshal.GetLastPInvokeError()}");
                made = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
            }
            catch (Exception ex) when (ex is IOException or SocketException or UnauthorizedAccessException)
            {
                failure = ex;
            }
        });
        // The thread joined the namespace: it ends here, so no pool thread is left inside it.
        t.Start();
        t.Join();
        return made ?? throw new IOException("cannot make a socket in the namespace", failure);
    }

    /// <summary>A dual-stack listener on [::]:port inside the namespace that accepts and closes every connection.</summary>
    public Listener Listen()
    {
        var s = Socket(AddressFamily.InterNetworkV6);
        s.DualMode = true;
        s.Bind(new IPEndPoint(IPAddress.IPv6Any, 0));
        s.Listen(512);
        return new Listener(s);
    }

    /// <summary>
    /// Whether a TCP connection from <paramref name="source"/> to <paramref name="port"/> on
    /// <paramref name="destination"/> completes within <paramref name="wait"/>: a dropped SYN never does.
    /// </summary>
    public bool Connects(IPAddress source, IPAddress destination, int port, TimeSpan wait) =>
        ConnectsAsync(source, destination, port, wait).GetAwaiter().GetResult();

    /// <summary>As <see cref="Connects"/>, without holding a thread while it waits (many probes at once).</summary>
    public async Task<bool> ConnectsAsync(IPAddress source, IPAddress destination, int port, TimeSpan wait)
    {
        using var s = Socket(source.AddressFamily);
        s.Bind(new IPEndPoint(source, 0));
        using var cts = new CancellationTokenSource(wait);
        try
        {
            await s.ConnectAsync(new IPEndPoint(destination, port), cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        // The holder, by its pid: the namespace (and the table in it) goes with it.
        try
        {
            _holder.Kill();
            _holder.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        _holder.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}

public sealed class Listener : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public Listener(Socket socket)
    {
        _socket = socket;
        Port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        _loop = Task.Run(AcceptAsync);
    }

    public int Port { get; }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var c = await _socket.AcceptAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Stopping.
                return;
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _loop.Wait(5000);
        _stop.Dispose();
    }
}

/// <summary>A fact that needs nf_tables: skipped, with the reason, only where the kernel lacks it.</summary>
public sealed class NfTablesFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Missing = new(Probe);

    public NfTablesFactAttribute()
    {
        if (Missing.Value is { } reason)
            Skip = reason;
    }

    private static string? Probe()
    {
        // nft itself is a package the CI installs: its absence fails the tests; only the kernel's lack of nf_tables skips them.
        var psi = new ProcessStartInfo("unshare", ["--net", "--", "nft", "add", "table", "inet", "giftwrap_probe"]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return p.ExitCode != 0 && (err.Contains("not supported", StringComparison.OrdinalIgnoreCase) || err.Contains("Protocol not", StringComparison.Ordinal))
            ? $"the kernel lacks nf_tables: {err.Trim()}"
            : null;
    }
}
