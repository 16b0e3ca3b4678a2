// What the tests that start real gates share: a free loopback port to listen on, and a
// signal to a process (SIGHUP for a reload, SIGTERM for a drain).
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Giftwrap.Cli.Tests;

internal static partial class Loopback
{
    /// <summary>A TCP port on 127.0.0.1 that nothing listened on a moment ago.</summary>
    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    /// <summary>kill(2): 0 when the signal was sent.</summary>
    public static int Signal(int pid, int signal) => kill(pid, signal);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
