// Carries out a decision's options for an HTTP service, in libwrap's order: process
// state (setenv, umask, nice, user, group) for the programs that follow; spawn run and
// waited for; keepalive and linger on the client's socket when it is ours; severity for
// the log line; a deferred aclexec last. What cannot apply to HTTP (banners, twist) is
// reported once per rule; twist refuses, because the service never sees a twisted client.
using System.Collections.Concurrent;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Gate.Actions;
using Giftwrap.Options;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore;

internal sealed partial class Gatekeeper
{
    private readonly record struct Outcome(bool Admit, Decision Decision, LogLevel? Level);

    private async Task<Outcome> CarryOutAsync(Decision decision, AccessRequest request, Socket? socket, CancellationToken ct)
    {
        var programs = new RulePrograms();
        LogLevel? level = null;
        while (true)
        {
            foreach (var action in decision.Actions)
            {
                if (programs.Apply(action))
                    continue;
                switch (action)
                {
                    case SeverityAction s:
                        level = LevelOf(s.Level);
                        break;
                    case KeepAliveAction:
                        SetSocket(socket, decision, request, "keepalive", static (s, _) => s.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true), 0);
                        break;
                    case LingerAction l:
                        // options.c linger_option(): l_onoff = (l_linger != 0); "linger 0" turns SO_LINGER off.
                        SetSocket(socket, decision, request, "linger", static (s, seconds) => SetLinger(s, seconds), l.Seconds);
                        break;
                    case SpawnAction s:
                        await RunAsync(programs, s.Command, request, ct).ConfigureAwait(false);
                        break;
                    case BannersAction:
                        Ignored(decision, request, "banners", "bytes before TLS or HTTP would break the protocol; not sent");
                        break;
                    case TwistAction:
                        Ignored(decision, request, "twist", "no program can take over an HTTP connection here; not run, and the client is refused (a twisted client never reaches the service)");
                        return new Outcome(false, decision, level);
                    default:
                        // allow and deny are in the verdict already, rfc931 is the lookups' time
                        // limit, ban is carried out once the decision is final.
                        break;
                }
            }
            if (decision.AclExec is { } aclexec && decision.AclExecFallback is { } fallback)
            {
                var status = await RunAsync(programs, aclexec, request, ct).ConfigureAwait(false);
                if (status != 0)
                {
                    AclExecFailed(_log, request.Daemon, Logging.LibwrapLines.AclExecReturned);
                    decision = fallback;
                    continue;
                }
            }
            return new Outcome(decision.IsGranted, decision, level);
        }
    }

    /// <summary>Runs a spawn or aclexec command and waits for it, as libwrap does; -1 when it could not run.</summary>
    private async Task<int> RunAsync(RulePrograms programs, string command, AccessRequest request, CancellationToken ct)
    {
        try
        {
            return await programs.RunAsync(command).WaitAsync(ct).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            ProgramFailed(_log, request.Daemon, ex.Message);
            return -1;
        }
        catch (OperationCanceledException)
        {
            // The client left; the program runs on and is reaped without us.
            return -1;
        }
    }

    private void SetSocket(Socket? socket, Decision decision, AccessRequest request, string keyword, Action<Socket, int> set, int value)
    {
        if (socket is null)
        {
            Ignored(decision, request, keyword, "the client's socket is not reachable here (HTTP-level check, or a transport without sockets)");
            return;
        }
        try
        {
            set(socket, value);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client may already be gone; the option then has nothing left to act on.
            SocketOptionFailed(_log, request.Daemon, keyword, ex.Message);
        }
    }

    /// <summary>setsockopt(SO_LINGER) raw, as libwrap sets it: LingerOption refuses more than 65,535 s, the kernel does not.</summary>
    private static void SetLinger(Socket socket, int seconds)
    {
        Span<byte> linger = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(linger, seconds != 0 ? 1 : 0);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(linger[4..], seconds);
        socket.SetRawSocketOption(1 /*SOL_SOCKET*/, 13 /*SO_LINGER*/, linger);
    }

    private void Ignored(Decision decision, AccessRequest request, string keyword, string why)
    {
        var rule = decision.Match?.ToString() ?? "a rule";
        if (_once.First($"{request.Daemon}|{rule}|{keyword}"))
            OptionIgnored(_log, request.Daemon, rule, keyword, why);
    }

    /// <summary>syslog levels (hosts_options(5) severity) as ILogger levels.</summary>
    internal static LogLevel LevelOf(int syslogLevel) => syslogLevel switch
    {
        <= 2 => LogLevel.Critical,
        3 => LogLevel.Error,
        4 => LogLevel.Warning,
        5 or 6 => LogLevel.Information,
        _ => LogLevel.Debug,
    };

    /// <summary>Remembers what was said, so that a per-rule notice is said once; bounded in size.</summary>
    private sealed class OnceReporter
    {
        private const int Capacity = 4096;
        private readonly ConcurrentDictionary<string, byte> _said = new(StringComparer.Ordinal);

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
