// Starts a real `giftwrap serve` as systemd starts a socket-activated service: the test's own
// sockets on descriptors 3, 4, ... with LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES. The test keeps
// its copies open, as systemd keeps its own; what serve does with them is the tests' concern.
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Giftwrap.Cli.Tests;

internal static partial class Activation
{
    private const int FSetFd = 2;
    private const int FdCloexec = 1;

    // Descriptors are inheritable only while one gate starts: no other child of the test gets them.
    private static readonly Lock Starting = new();

    /// <summary>
    /// `giftwrap serve --config <paramref name="conf"/>` with <paramref name="passed"/> on descriptors 3, 4, ...
    /// in that order, named as given.
    /// </summary>
    public static ServeProcess Serve(string conf, params (Socket Socket, string Name)[] passed) => Serve(conf, [], [], passed);

    /// <summary>
    /// As <see cref="Serve(string, ValueTuple{Socket, string}[])"/>, started through <paramref name="prefix"/> (a command that
    /// execs the rest in place, as `unshare -n`) and with <paramref name="extra"/> arguments for serve (as --inetd FILE).
    /// </summary>
    public static ServeProcess Serve(string conf, string[] prefix, string[] extra, params (Socket Socket, string Name)[] passed)
    {
        var fds = passed.Select(p => (int)p.Socket.SafeHandle.DangerousGetHandle()).ToArray();
        // bash, not sh: dash refuses descriptor numbers above 9. Each goes to a free descriptor
        // of bash's choosing first ({tN}, 10 or more), so that one of the test's own numbers may be 3 or 4.
        var script = new StringBuilder();
        for (var i = 0; i < fds.Length; i++)
            script.Append($"exec {{t{i}}}<&{fds[i]} {fds[i]}<&-\n");
        for (var i = 0; i < fds.Length; i++)
            script.Append($"exec {3 + i}<&$t{i} {{t{i}}}<&-\n");
        // exec in place, twice (bash, then env): LISTEN_PID is the gate's own pid.
        script.Append($"exec env LISTEN_PID=$$ LISTEN_FDS={fds.Length} LISTEN_FDNAMES={string.Join(':', passed.Select(p => p.Name))} \"$@\"\n");
        lock (Starting)
        {
            foreach (var fd in fds)
                Assert.Equal(0, fcntl(fd, FSetFd, 0));
            try
            {
                return new ServeProcess(conf, 1, [.. prefix, "bash", "-c", script.ToString(), "bash"], extra);
            }
            finally
            {
                foreach (var fd in fds)
                    _ = fcntl(fd, FSetFd, FdCloexec);
            }
        }
    }

    /// <summary>The socket inodes the process <paramref name="pid"/> holds ("socket:[N]"), by descriptor.</summary>
    public static Dictionary<int, string> Sockets(int pid) =>
        new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos()
            .Select(f => (Fd: int.Parse(f.Name, System.Globalization.CultureInfo.InvariantCulture), Target: f.LinkTarget ?? ""))
            .Where(x => x.Target.StartsWith("socket:", StringComparison.Ordinal))
            .ToDictionary(x => x.Fd, x => x.Target);

    /// <summary>The inode of the test's own <paramref name="socket"/>, as /proc names it.</summary>
    public static string Inode(Socket socket) =>
        new FileInfo($"/proc/self/fd/{socket.SafeHandle.DangerousGetHandle()}").LinkTarget!;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fcntl(int fd, int cmd, int arg);
}
