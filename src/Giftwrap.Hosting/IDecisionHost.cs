// What a host (the gate, tcpd mode, Kestrel's gatekeeper) lends DecisionEngine to carry out a
// decision: starting a program, sending a banner's bytes, setting an option on the client's socket,
// and writing a line. The order of the options, the process state, the aclexec fallback and the
// log lines' words are the engine's; where each thing goes, and what a host cannot do, are the host's.
using Giftwrap.Decisions;

namespace Giftwrap.Hosting;

/// <summary>What a host does with a twist option.</summary>
internal enum TwistSupport
{
    /// <summary>The host starts the program on the client's descriptor (the gate).</summary>
    Start,
    /// <summary>The engine stops there and returns the command: the caller replaces itself with it (tcpd mode's execve).</summary>
    Defer,
    /// <summary>No program can take the client here (Kestrel): reported through <see cref="IDecisionHost.NotCarriedOut"/>, and the client is refused.</summary>
    Refuse,
}

/// <summary>An option of the client's socket that a rule sets.</summary>
internal enum ClientSocketOption
{
    /// <summary>keepalive: SO_KEEPALIVE on.</summary>
    KeepAlive,
    /// <summary>linger N: SO_LINGER with l_onoff = (N != 0), l_linger = N.</summary>
    Linger,
}

/// <summary>What became of a socket option the engine asked a host to set.</summary>
internal enum SocketOptionResult
{
    /// <summary>Set.</summary>
    Set,
    /// <summary>setsockopt() failed: the engine logs tcpd_warn()'s line with the error.</summary>
    Failed,
    /// <summary>The host has no socket to set it on; it has said so itself (Kestrel, once per rule).</summary>
    NotReachable,
}

/// <summary>Why a program is started: the host may bound rule programs (spawn, twist, aclexec) and not a service.</summary>
internal enum ProgramKind
{
    /// <summary>spawn: stdio on /dev/null, waited for.</summary>
    Spawn,
    /// <summary>aclexec: stdio on the client's connection (as Debian's tcpd gives it), its status decides.</summary>
    AclExec,
    /// <summary>twist: the program takes the client on its stdio.</summary>
    Twist,
}

/// <summary>A program the engine wants started, with where it comes from (for the host's bounds and lines).</summary>
/// <param name="argv">argv; argv[0] is the path spawned.</param>
/// <param name="state">The process state the options before it built.</param>
/// <param name="kind">Spawn, aclexec or twist.</param>
/// <param name="request">The request as the options left it.</param>
/// <param name="decision">The decision whose rule asks for it.</param>
/// <remarks>A class, not a record: nothing compares them, and a record's members were on giftwrap-tcpd's start.</remarks>
internal sealed class ProgramStart(string[] argv, ProcessState state, ProgramKind kind, AccessRequest request, Decision decision)
{
    public string[] Argv { get; } = argv;
    public ProcessState State { get; } = state;
    public ProgramKind Kind { get; } = kind;
    public AccessRequest Request { get; } = request;
    public Decision Decision { get; } = decision;
}

/// <summary>The host side of carrying out a decision; one instance may serve many connections, or one.</summary>
internal interface IDecisionHost
{
    /// <summary>What the host does with a twist option.</summary>
    TwistSupport Twist { get; }

    /// <summary>False where bytes before the protocol would break it (Kestrel): banners are then reported through <see cref="NotCarriedOut"/>.</summary>
    bool SendsBanners { get; }

    /// <summary>
    /// Starts <paramref name="program"/> with stdio on /dev/null (spawn) or on the client's descriptor (twist; aclexec in the gate and tcpd mode, as Debian's tcpd),
    /// completing when it is reaped. A program the host's bounds do not let start completes at once with
    /// <see cref="ChildExit.NotStarted"/>; one that cannot start throws <see cref="IOException"/> (the engine logs it).
    /// </summary>
    Task<ChildExit> StartAsync(ProgramStart program);

    /// <summary>Sends a banner's bytes, already expanded, to the client; a failure is the host's to report (the engine goes on, as libwrap's unchecked write()).</summary>
    ValueTask SendBannerAsync(ReadOnlyMemory<byte> banner, AccessRequest request, CancellationToken ct);

    /// <summary>Sets <paramref name="option"/> (with <paramref name="seconds"/> for linger) on the client's socket; <paramref name="error"/> is strerror() when it failed.</summary>
    SocketOptionResult SetSocketOption(ClientSocketOption option, int seconds, Decision decision, AccessRequest request, out string? error);

    /// <summary>An option this host cannot carry out (banners, twist where <see cref="Twist"/> is Refuse, keyword as written); the host says so as it sees fit.</summary>
    void NotCarriedOut(string keyword, Decision decision, AccessRequest request);

    /// <summary>Writes one of libwrap's lines (<see cref="LibwrapLog"/> builds them all).</summary>
    void Log(in LibwrapLine line);
}
