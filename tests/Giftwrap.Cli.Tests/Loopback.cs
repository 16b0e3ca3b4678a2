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

    /// <summary>mkfifo(3) with mode 0644: 0 when made.</summary>
    public static int MakeFifo(string path) => mkfifo(path, 0x1A4);

    /// <summary>open(O_RDWR | O_CLOEXEC): on a FIFO it never waits for a partner.</summary>
    public static nint OpenReadWrite(string path)
    {
        var fd = open(path, 2 | 0x80000);
        return fd >= 0 ? fd : throw new IOException($"open {path}: {Marshal.GetLastPInvokeErrorMessage()}");
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);
}
