// What the tests that run the real giftwrap inside a namespace of their own share: a temporary
// directory with hosts.allow and hosts.deny, the namespace, a listener in it, the giftwrap.dll
// to run, serve's configuration, and the two looks at the result (can a source connect; the ruleset).
// Disposed by the test.
using System.Net;

namespace Giftwrap.Kernel.Tests;

public sealed class GiftwrapInNamespace : IDisposable
{
    public GiftwrapInNamespace(string name, string deny)
    {
        Dir = Directory.CreateTempSubdirectory($"giftwrap-{name}-").FullName;
        File.WriteAllText(Path.Combine(Dir, "hosts.allow"), "");
        File.WriteAllText(Path.Combine(Dir, "hosts.deny"), deny);
        Ns = NetNamespace.Create();
        Listener = Ns.Listen();
    }

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "giftwrap.dll");

    public string Dir { get; }

    public NetNamespace Ns { get; }

    public Listener Listener { get; }

    /// <summary>giftwrap.conf in <see cref="Dir"/>, as <see cref="WriteServeConfig"/> writes it.</summary>
    public string Conf => Path.Combine(Dir, "giftwrap.conf");

    /// <summary>
    /// serve's configuration: the tables, a ban store that does not protect loopback, syslog off, service echo
    /// (127.0.0.1:2222 forwarded to the listener), and <paramref name="kernel"/> as the [kernel] section's lines,
    /// from line 17 on.
    /// </summary>
    public void WriteServeConfig(string kernel) =>
        File.WriteAllText(Conf, $"""
            [tables]
            allow = {Dir}/hosts.allow
            deny = {Dir}/hosts.deny

            [bans]
            store = {Dir}/store
            protect_loopback = no

            [log]
            syslog = off

            [service:echo]
            listen = 127.0.0.1:2222
            forward = 127.0.0.1:{Listener.Port}

            [kernel]
            {kernel}

            """);

    /// <summary>Whether <paramref name="source"/> (bound in the namespace) connects to the listener within 1.5 s.</summary>
    public bool From(string source) => Ns.Connects(IPAddress.Parse(source), IPAddress.Loopback, Listener.Port, TimeSpan.FromMilliseconds(1500));

    public string Ruleset() => Ns.Must("nft", "list", "ruleset").Stdout;

    public void Dispose()
    {
        Listener.Dispose();
        Ns.Dispose();
        Directory.Delete(Dir, true);
    }
}
