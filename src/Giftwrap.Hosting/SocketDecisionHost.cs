// The host side shared by hosts that hold the client's socket (the gate, tcpd mode): keepalive and
// linger set as libwrap sets them, banners written with a time limit, programs started with
// posix_spawn (twist on the client's descriptor) and reaped by ChildReaper. Where lines go, what
// twist becomes and any bound on programs are left to the concrete host.
using System.Buffers.Binary;
using System.Net.Sockets;
using Giftwrap.Decisions;

namespace Giftwrap.Hosting;

/// <param name="client">The client's socket; null only when <see cref="DecisionEngine.NeedsSocket"/> is false (tcpd mode then builds none).</param>
/// <param name="bannerTimeout">How long a banner may take to send.</param>
internal abstract class SocketDecisionHost(Socket? client, TimeSpan bannerTimeout) : IDecisionHost
{
    public abstract TwistSupport Twist { get; }

    public bool SendsBanners => true;

    public abstract void Log(in LibwrapLine line);

    /// <summary>Starts the program at once: spawn with stdio on /dev/null, twist and aclexec on the client's socket.</summary>
    public virtual Task<ChildExit> StartAsync(ProgramStart program) =>
        ChildReaper.WatchExit(ProcessLauncher.Start(program.Argv, program.State, StdioOf(program)));

    /// <summary>
    /// The descriptor for the program's stdio: the client's for a twist, and for an aclexec on a
    /// connection (Debian's aclexec_option() runs the shell on tcpd's own descriptors, the connection);
    /// -1 (/dev/null) for a spawn, and for an aclexec of a datagram service, whose socket is the
    /// service's own and whose datagrams are not the command's to read.
    /// </summary>
    protected int StdioOf(ProgramStart program) => program.Kind switch
    {
        ProgramKind.Twist => (int)Client.SafeHandle.DangerousGetHandle(),
        ProgramKind.AclExec when Client.SocketType == SocketType.Stream => (int)Client.SafeHandle.DangerousGetHandle(),
        _ => -1,
    };

    private Socket Client => client ?? throw new InvalidOperationException("the decision's actions need the client socket");

    public async ValueTask SendBannerAsync(ReadOnlyMemory<byte> banner, AccessRequest request, CancellationToken ct)
    {
        // A datagram service's socket has no peer: libwrap's write() fails there (EDESTADDRREQ) and its
        // result is not looked at, so the banner is expanded and nothing is sent or said.
        var socket = Client;
        if (socket.SocketType == SocketType.Dgram)
            return;
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        limit.CancelAfter(bannerTimeout);
        try
        {
            await socket.SendAsync(banner, SocketFlags.None, limit.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            // Giftwrap's own line: libwrap's write() would block the process instead.
            Log(LibwrapLog.BannerNotSent(request, ex.Message));
        }
    }

    public SocketOptionResult SetSocketOption(ClientSocketOption option, int seconds, Decision decision, AccessRequest request, out string? error) =>
        Apply(Client, option, seconds, out error);

    /// <summary>keepalive or linger on <paramref name="socket"/>; a failure is returned with its reason for the engine's tcpd_warn() line.</summary>
    internal static SocketOptionResult Apply(Socket socket, ClientSocketOption option, int seconds, out string? error)
    {
        error = null;
        try
        {
            if (option == ClientSocketOption.KeepAlive)
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            else
                SetLinger(socket, seconds);
            return SocketOptionResult.Set;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client may already be gone; the engine says so in tcpd_warn()'s words.
            error = ex.Message;
            return SocketOptionResult.Failed;
        }
    }

    /// <summary>A socket host carries out every option; nothing is left unsaid.</summary>
    public void NotCarriedOut(string keyword, Decision decision, AccessRequest request) =>
        throw new InvalidOperationException($"a socket host carries out {keyword}");

    /// <summary>
    /// setsockopt(SO_LINGER) with struct linger as libwrap fills it: options.c linger_option() sets l_onoff =
    /// (l_linger != 0), so "linger 0" turns SO_LINGER off (a normal close), it does not ask for a reset. Raw,
    /// because LingerOption refuses more than 65,535 seconds where the kernel takes any int ("linger 100000").
    /// </summary>
    internal static void SetLinger(Socket socket, int seconds)
    {
        Span<byte> linger = stackalloc byte[Interop.Libc.LingerSize];
        BinaryPrimitives.WriteInt32LittleEndian(linger, seconds != 0 ? 1 : 0);
        BinaryPrimitives.WriteInt32LittleEndian(linger[sizeof(int)..], seconds);
        socket.SetRawSocketOption(Interop.Libc.SolSocket, Interop.Libc.SoLinger, linger);
    }
}
