// systemd socket activation (sd_listen_fds): listening sockets handed over on
// descriptors 3, 4, ... with LISTEN_FDS and LISTEN_PID (and LISTEN_FDNAMES). The
// gate uses them in place of binding the same addresses itself.
using System.Net.Sockets;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Listening;

public static class SocketActivation
{
    private const int FirstFd = 3;

    /// <summary>The listening sockets systemd passed to this process, with their names; empty when none.</summary>
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
        Span<byte> value = stackalloc byte[4];
        for (var i = 0; i < n; i++)
        {
            var socket = new Socket(new SafeSocketHandle(FirstFd + i, ownsHandle: true));
            // SO_ACCEPTCONN through the raw call: GetSocketOption throws on inherited sockets.
            if (socket.GetRawSocketOption(Libc.SolSocket, Libc.SoAcceptConn, value) != 4 || BitConverter.ToInt32(value) == 0)
            {
                socket.Dispose();
                continue;
            }
            result.Add((socket, i < names.Length ? names[i] : null));
        }
        // Passed on to no child: the variables describe this process only.
        Environment.SetEnvironmentVariable("LISTEN_PID", null);
        Environment.SetEnvironmentVariable("LISTEN_FDS", null);
        Environment.SetEnvironmentVariable("LISTEN_FDNAMES", null);
        return result;
    }
}
