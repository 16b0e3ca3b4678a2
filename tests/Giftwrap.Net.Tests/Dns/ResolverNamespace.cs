// The system resolver with hosts files of the test's own: a thread that has left the machine's mount
// namespace (unshare CLONE_NEWNS, every mount private) and has /etc/hosts and /etc/nsswitch.conf
// ("hosts: files") bound over from a temporary directory. Lookups run on that thread, through
// SystemDnsClient's own getnameinfo/getaddrinfo calls; the machine's /etc files are never touched.
// The real libwrap is run in the same set-up by a child `unshare -m` over the same files.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Giftwrap.Net.Dns;

namespace Giftwrap.Net.Tests;

internal sealed partial class ResolverNamespace : IDnsClient, IDisposable
{
    private const int CloneNewNs = 0x00020000;
    private const ulong MsBind = 0x1000;
    private const ulong MsRec = 0x4000;
    private const ulong MsPrivate = 0x40000;

    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="hostsBytes">The /etc/hosts to play the resolver, as bytes (names may hold any byte).</param>
    public ResolverNamespace(byte[] hostsBytes)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("giftwrap-resolver-").FullName;
        Hosts = Path.Combine(Directory, "hosts");
        NsSwitch = Path.Combine(Directory, "nsswitch.conf");
        File.WriteAllBytes(Hosts, hostsBytes);
        File.WriteAllText(NsSwitch, "hosts: files\n");
        _thread = new Thread(Serve) { IsBackground = true, Name = "resolver namespace" };
        _thread.Start();
        _ready.Task.GetAwaiter().GetResult();
    }

    public string Directory { get; }
    public string Hosts { get; }
    public string NsSwitch { get; }

    public Task<IReadOnlyList<string>> ReverseAsync(IPAddress address, CancellationToken cancellationToken) =>
        Run<IReadOnlyList<string>>(() => SystemDnsClient.GetNameInfo(address) is { } name ? [name] : []);

    public Task<IReadOnlyList<IPAddress>> ForwardAsync(string name, CancellationToken cancellationToken) =>
        Run<IReadOnlyList<IPAddress>>(() => [.. SystemDnsClient.GetAddrInfo(name, AddressFamily.InterNetwork).Addresses,
            .. SystemDnsClient.GetAddrInfo(name, AddressFamily.InterNetworkV6).Addresses]);

    public Task<ForwardAnswer> ForwardCanonicalAsync(string name, AddressFamily family, CancellationToken cancellationToken) =>
        Run(() => SystemDnsClient.GetAddrInfo(name, family));

    /// <summary>Runs the libwrap harness over <paramref name="requests"/> in a mount namespace with the same files.</summary>
    public List<string> Libwrap(string allow, string deny, IEnumerable<string> requests)
    {
        var script = $"mount --make-rprivate / && mount --bind '{Hosts}' /etc/hosts && mount --bind '{NsSwitch}' /etc/nsswitch.conf " +
            $"&& exec '{Giftwrap.Tests.Conformance.LibwrapOracle.Path}' --verbose-options --timeout 10 '{allow}' '{deny}'";
        var psi = new ProcessStartInfo("unshare", ["-m", "/bin/sh", "-c", script])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.Latin1,
            StandardInputEncoding = Encoding.Latin1,
        };
        using var p = Process.Start(psi)!;
        var error = p.StandardError.ReadToEndAsync();
        foreach (var r in requests)
        {
            p.StandardInput.Write(r + "\n");
        }
        p.StandardInput.Close();
        var lines = new List<string>();
        while (p.StandardOutput.ReadLine() is { } line)
        {
            lines.Add(line);
        }
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"libwrap harness in a namespace: exit {p.ExitCode}: {error.Result}");
        }
        return lines;
    }

    private Task<T> Run<T>(Func<T> lookup)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(lookup());
            }
            catch (Exception e)
            {
                // The verifier sees resolver failures as failed tasks, as from any client.
                done.SetException(e);
            }
        });
        return done.Task;
    }

    private void Serve()
    {
        try
        {
            // unshare(CLONE_NEWNS) on one thread gives that thread (and only it) a copy of the mounts.
            Check(unshare(CloneNewNs), "unshare(CLONE_NEWNS)");
            Check(mount(null, "/", null, MsRec | MsPrivate, 0), "mount --make-rprivate /");
            Check(mount(Hosts, "/etc/hosts", null, MsBind, 0), "mount --bind hosts");
            Check(mount(NsSwitch, "/etc/nsswitch.conf", null, MsBind, 0), "mount --bind nsswitch.conf");
            _ready.SetResult();
        }
        catch (Exception e)
        {
            // Reported to the constructor; the thread has nothing more to do.
            _ready.SetException(e);
            return;
        }
        foreach (var work in _work.GetConsumingEnumerable())
        {
            work();
        }
    }

    private static void Check(int result, string what)
    {
        if (result != 0)
        {
            throw new InvalidOperationException($"{what} failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int unshare(int flags);

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string? source, string target, string? type, ulong flags, nint data);
}
