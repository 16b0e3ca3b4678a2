// systemd socket activation (sd_listen_fds): sockets handed over on descriptors 3, 4, ...
// with LISTEN_FDS and LISTEN_PID (and LISTEN_FDNAMES). The gate uses them in place of binding
// the same addresses itself; which socket serves which address is ActivatedSockets' matter.
using System.Net.Sockets;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Listening;

public static class SocketActivation
{
    private const int FirstFd = 3;

    /// <summary>
    /// The sockets systemd passed to this process (listening TCP sockets, UDP sockets, and any other
    /// socket, which the gate closes with a warning), with their names; empty when none.
    /// </summary>
    public static IReadOnlyList<(Socket Socket, string? Name)> Take()
    {
        var pid = Environment.GetEnvironmentVariable("LISTEN_PID");
        var count = Environment.GetEnvironmentVariable("LISTEN_FDS");
        if (pid is null || count is null || pid != Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)
            || !int.TryParse(count, out var n) || n <= 0)
        {
            return [];
        }

        var names = Environment.GetEnvironmentVariable("LISTEN_FDNAMES")?.Split(':') ?? [];
        var result = new List<(Socket, string?)>();
        for (var i = 0; i < n; i++)
        {
            var fd = FirstFd + i;
            // As sd_listen_fds does: no program the gate starts inherits them (a UDP program gets
            // its own socket on its stdio, a copy without the flag).
            _ = Libc.fcntl(fd, Libc.FSetFd, Libc.FdCloexec);
            // Not a socket (ListenFIFO=, a file): nothing the gate can serve, nor hold as a Socket.
            if (!IsSocket(fd))
            {
                _ = Libc.close(fd);
                continue;
            }
            result.Add((new Socket(new SafeSocketHandle(fd, ownsHandle: true)), i < names.Length ? names[i] : null));
        }
        // Passed on to no child: the variables describe this process only.
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        return result;
    }

    private static unsafe bool IsSocket(int fd)
    {
        int type;
        var length = (uint)sizeof(int);
        return Libc.getsockopt(fd, Libc.SolSocket, Libc.SoType, &type, &length) == 0;
    }
}
