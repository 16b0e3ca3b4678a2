// The gatekeeper as a host of Giftwrap.Hosting's DecisionEngine, which carries out a decision's
// options in libwrap's order and spells the lines. What is Kestrel's own: programs start with stdio
// on /dev/null (spawn, aclexec); keepalive and linger go on the client's socket when it is ours;
// banners and twist cannot apply to HTTP and are reported once per rule (a twist refuses, because
// the service never sees a twisted client); lines go to ILogger.
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Hosting;
using Giftwrap.Logging;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore;

internal sealed partial class Gatekeeper : IDecisionHost
{
    /// <summary>The host for one client: the gatekeeper itself when no socket is ours, else one that holds it.</summary>
    private IDecisionHost HostFor(Decision decision, Socket? socket) =>
        socket is not null && DecisionEngine.NeedsSocket(decision) ? new SocketHost(this, socket) : this;

    public TwistSupport Twist => TwistSupport.Refuse;

    public bool SendsBanners => false;

    /// <summary>spawn and aclexec: /bin/sh with stdio on /dev/null, reaped by the engine's child reaper.</summary>
    public Task<ChildExit> StartAsync(ProgramStart program) =>
        ChildReaper.WatchExit(ProcessLauncher.Start(program.Argv, program.State, -1));

    /// <summary>Never asked: <see cref="SendsBanners"/> is false, so the engine reports banners instead.</summary>
    public ValueTask SendBannerAsync(ReadOnlyMemory<byte> banner, AccessRequest request, CancellationToken ct) => ValueTask.CompletedTask;

    /// <summary>No socket of ours here (the HTTP-level check, or a transport without sockets): said once per rule.</summary>
    public SocketOptionResult SetSocketOption(ClientSocketOption option, int seconds, Decision decision, AccessRequest request, out string? error)
    {
        error = null;
        Ignored(decision, request, option == ClientSocketOption.KeepAlive ? "keepalive" : "linger",
            "the client's socket is not reachable here (HTTP-level check, or a transport without sockets)");
        return SocketOptionResult.NotReachable;
    }

    public void NotCarriedOut(string keyword, Decision decision, AccessRequest request) =>
        Ignored(decision, request, keyword, keyword switch
        {
            "banners" => "bytes before TLS or HTTP would break the protocol; not sent",
            "twist" => "no program can take over an HTTP connection here; not run, and the client is refused (a twisted client never reaches the service)",
            _ => "not carried out for HTTP",
        });

    public void Log(in LibwrapLine line) => line.WriteTo(_log);

    private void Ignored(Decision decision, AccessRequest request, string keyword, string why)
    {
        var rule = decision.Match?.ToString() ?? "a rule";
        if (_once.First($"{request.Daemon}|{rule}|{keyword}"))
            OptionIgnored(_log, request.Daemon, rule, keyword, why);
    }

    /// <summary>syslog levels (hosts_options(5) severity) as ILogger levels, as the engine's lines are written.</summary>
    internal static LogLevel LevelOf(int syslogLevel) => ((SyslogSeverity)syslogLevel).ToLogLevel();

    /// <summary>The gatekeeper with the client's own socket, for keepalive and linger; everything else is the gatekeeper's.</summary>
    private sealed class SocketHost(Gatekeeper gatekeeper, Socket socket) : IDecisionHost
    {
        public TwistSupport Twist => gatekeeper.Twist;

        public bool SendsBanners => gatekeeper.SendsBanners;

        public Task<ChildExit> StartAsync(ProgramStart program) => gatekeeper.StartAsync(program);

        public ValueTask SendBannerAsync(ReadOnlyMemory<byte> banner, AccessRequest request, CancellationToken ct) =>
            gatekeeper.SendBannerAsync(banner, request, ct);

        public SocketOptionResult SetSocketOption(ClientSocketOption option, int seconds, Decision decision, AccessRequest request, out string? error) =>
            SocketDecisionHost.Apply(socket, option, seconds, out error);

        public void NotCarriedOut(string keyword, Decision decision, AccessRequest request) => gatekeeper.NotCarriedOut(keyword, decision, request);

        public void Log(in LibwrapLine line) => gatekeeper.Log(line);
    }

    /// <summary>Remembers what was said, so that a per-rule notice is said once; bounded in size.</summary>
    private sealed class OnceReporter
    {
        private const int Capacity = 4096;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _said = new(StringComparer.Ordinal);

        public bool First(string key)
        {
            // Tables edited without end could grow the set without end: start over (and repeat
            // a notice) rather than hold memory for rules that no longer exist.
            if (_said.Count >= Capacity)
                _said.Clear();
            return _said.TryAdd(key, 0);
        }
    }
}
