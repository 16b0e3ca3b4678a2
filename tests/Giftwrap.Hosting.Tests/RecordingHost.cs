// A host of DecisionEngine that records what it was asked to do, and starts programs for real
// (posix_spawn, reaped by ChildReaper) unless told to refuse them: the engine's order and lines are
// then seen without a socket, as Kestrel's gatekeeper sees them.
using Giftwrap.Decisions;

namespace Giftwrap.Hosting.Tests;

internal sealed class RecordingHost(TwistSupport twist = TwistSupport.Refuse, bool sendsBanners = false, SocketOptionResult sockets = SocketOptionResult.NotReachable) : IDecisionHost
{
    public List<LibwrapLine> Lines { get; } = [];
    public List<string> NotCarried { get; } = [];
    public List<ProgramStart> Programs { get; } = [];
    public List<byte[]> Banners { get; } = [];
    public List<(ClientSocketOption Option, int Seconds)> Options { get; } = [];

    /// <summary>When set, every program fails to start with this message.</summary>
    public string? StartFailure { get; init; }

    public TwistSupport Twist => twist;

    public bool SendsBanners => sendsBanners;

    public Task<ChildExit> StartAsync(ProgramStart program)
    {
        Programs.Add(program);
        if (StartFailure is { } failure)
            throw new IOException(failure);
        return ChildReaper.WatchExit(ProcessLauncher.Start(program.Argv, program.State, -1));
    }

    public ValueTask SendBannerAsync(ReadOnlyMemory<byte> banner, AccessRequest request, CancellationToken ct)
    {
        Banners.Add(banner.ToArray());
        return ValueTask.CompletedTask;
    }

    public SocketOptionResult SetSocketOption(ClientSocketOption option, int seconds, Decision decision, AccessRequest request, out string? error)
    {
        Options.Add((option, seconds));
        error = sockets == SocketOptionResult.Failed ? "Bad file descriptor" : null;
        return sockets;
    }

    public void NotCarriedOut(string keyword, Decision decision, AccessRequest request) => NotCarried.Add(keyword);

    public void Log(in LibwrapLine line) => Lines.Add(line);
}
