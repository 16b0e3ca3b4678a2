// Carries out a decision's actions for one connection, in the order libwrap does:
// process state (setenv, umask, nice, user, group) accumulates and applies to
// each program started after it; spawn runs with stdio on /dev/null and is waited
// for without blocking other connections; banners go to the client; twist hands the
// connection to a program; a deferred aclexec decides last. Returns what the
// connection became.
using System.Net.Sockets;
using System.Text;
using Giftwrap.Decisions;
using Giftwrap.Expansion;
using Giftwrap.Gate.Logging;
using Giftwrap.Options;

namespace Giftwrap.Gate.Actions;

internal enum ConnectionFate
{
    /// <summary>Access granted: the service (forward or exec) takes the connection.</summary>
    Serve,
    /// <summary>Access refused: the connection is closed.</summary>
    Refuse,
    /// <summary>A twist program took the connection.</summary>
    Twisted,
}

// Program: the twist program's exit status, when the gate started one.
internal sealed record ActionOutcome(ConnectionFate Fate, ProcessState State, Decision Decision, int? Facility, int? Level, string? TwistCommand = null, Task<int>? Program = null);

/// <param name="log">Where tcpd's lines go.</param>
/// <param name="bannerTimeout">How long a banner may take to send.</param>
/// <param name="launchTwist">The gate starts the twist program itself; tcpd mode leaves it to the caller, which replaces itself.</param>
/// <param name="programs">The gate's bounds on the programs of rules; null in tcpd mode (one connection per process).</param>
internal sealed class ActionRunner(GateLog log, TimeSpan bannerTimeout, bool launchTwist = true, ProgramLimits? programs = null)
{
    private const int MaxBannerBytes = 64 * 1024;

    /// <summary>Whether carrying out <paramref name="decision"/> touches the client socket (keepalive, linger, banners, twist).</summary>
    public static bool NeedsSocket(Decision decision) =>
        decision.Actions.Any(a => a is KeepAliveAction or LingerAction or BannersAction or TwistAction)
        || (decision.AclExecFallback is { } fallback && NeedsSocket(fallback));

    /// <param name="decision">The decision whose actions are carried out.</param>
    /// <param name="request">The request it was made for.</param>
    /// <param name="client">The client socket; null only when <see cref="NeedsSocket"/> is false (tcpd mode then never builds one).</param>
    /// <param name="ct">Stops banners and waits.</param>
    public async Task<ActionOutcome> RunAsync(Decision decision, AccessRequest request, Socket? client, CancellationToken ct)
    {
        var state = new ProcessState();
        int? facility = null;
        int? level = null;
        while (true)
        {
            foreach (var action in decision.Actions)
            {
                if (state.With(action) is { } next)
                {
                    state = next;
                    continue;
                }
                switch (action)
                {
                    case SeverityAction s:
                        facility = s.Facility;
                        level = s.Level;
                        break;
                    case KeepAliveAction:
                        TrySocket(() => Need(client).SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true), "keepalive", request);
                        break;
                    case LingerAction l:
                        TrySocket(() => Need(client).LingerState = new LingerOption(true, l.Seconds), "linger", request);
                        break;
                    case SpawnAction s:
                        // Waited for as libwrap's shell_cmd() does, but a stop whose drain runs out
                        // (ct) gives the connection up: the program itself is left to finish.
                        await RunAndWaitAsync(s.Command, state, request, decision).WaitAsync(ct).ConfigureAwait(false);
                        break;
                    case BannersAction b:
                        await SendBannerAsync(b.Path, request, Need(client), ct).ConfigureAwait(false);
                        break;
                    case TwistAction t:
                        log.Daemon(request.Daemon, level ?? Severity.Warning, $"twist {PercentExpander.Expand("%c", request)} to {t.Command}", facility);
                        var program = launchTwist
                            ? StartForRule(ProcessLauncher.ShellCommand(t.Command), state, (int)Need(client).SafeHandle.DangerousGetHandle(), request, decision)
                            : null;
                        return new ActionOutcome(ConnectionFate.Twisted, state, decision, facility, level, t.Command, program);
                }
            }
            if (decision.AclExec is { } aclexec && decision.AclExecFallback is { } fallback)
            {
                var status = await RunAndWaitAsync(aclexec, state, request, decision).WaitAsync(ct).ConfigureAwait(false);
                if (status != 0)
                {
                    log.Daemon(request.Daemon, Severity.Info, "aclexec returned 1", facility);
                    decision = fallback;
                    continue;
                }
            }
            return new ActionOutcome(decision.IsGranted ? ConnectionFate.Serve : ConnectionFate.Refuse, state, decision, facility, level);
        }
    }

    private static Socket Need(Socket? client) =>
        client ?? throw new InvalidOperationException("the decision's actions need the client socket");

    private Task<int> RunAndWaitAsync(string command, ProcessState state, AccessRequest request, Decision decision) =>
        StartForRule(ProcessLauncher.ShellCommand(command), state, -1, request, decision);

    /// <summary>
    /// Starts a program of <paramref name="decision"/>'s rule within the gate's bounds: over them it
    /// is not started (-1, as a program that could not start: a twist then closes the connection, a
    /// failed aclexec refuses), and the refusal is counted and summarised by <see cref="ProgramLimits"/>.
    /// </summary>
    private Task<int> StartForRule(string[] argv, ProcessState state, int stdio, AccessRequest request, Decision decision)
    {
        if (programs is null)
            return Start(argv, state, stdio, request);
        if (!programs.TryEnter(decision.Match?.ToString() ?? "(no rule)", request.Daemon))
            return Task.FromResult(-1);
        int pid;
        try
        {
            pid = ProcessLauncher.Start(argv, state, stdio);
        }
        catch (IOException ex)
        {
            programs.NotStarted();
            log.Daemon(request.Daemon, Severity.Err, $"error: {ex.Message}");
            return Task.FromResult(-1);
        }
        var exited = ChildReaper.Watch(pid);
        programs.Started(pid, exited);
        return exited;
    }

    /// <summary>Starts a program; the task completes with its exit status (-1 if it could not start).</summary>
    internal Task<int> Start(string[] argv, ProcessState state, int stdio, AccessRequest request)
    {
        try
        {
            return ChildReaper.Watch(ProcessLauncher.Start(argv, state, stdio));
        }
        catch (IOException ex)
        {
            log.Daemon(request.Daemon, Severity.Err, $"error: {ex.Message}");
            return Task.FromResult(-1);
        }
    }

    private void TrySocket(Action set, string what, AccessRequest request)
    {
        try
        {
            set();
        }
        catch (SocketException ex)
        {
            log.Daemon(request.Daemon, Severity.Warning, $"warning: setsockopt {what}: {ex.Message}");
        }
    }

    /// <summary>banners: the file named after the daemon, %-expanded, newlines sent as CRLF, bounded in size and time.</summary>
    private async Task SendBannerAsync(string path, AccessRequest request, Socket client, CancellationToken ct)
    {
        byte[] data;
        try
        {
            await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, useAsync: true);
            data = new byte[Math.Min(fs.Length, MaxBannerBytes)];
            var read = 0;
            while (read < data.Length)
            {
                var n = await fs.ReadAsync(data.AsMemory(read), ct).ConfigureAwait(false);
                if (n == 0)
                    break;
                read += n;
            }
            data = data[..read];
        }
        catch (FileNotFoundException)
        {
            return;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            log.Daemon(request.Daemon, Severity.Warning, $"warning: {path}: {ex.Message}");
            return;
        }
        var text = Encoding.Latin1.GetString(data);
        var sb = new StringBuilder(text.Length + 64);
        foreach (var line in text.Split('\n'))
        {
            if (sb.Length > 0)
                sb.Append("\r\n");
            sb.Append(PercentExpander.Expand(line, request));
        }
        var bytes = Encoding.Latin1.GetBytes(sb.ToString());
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(bannerTimeout);
        try
        {
            await client.SendAsync(bytes, SocketFlags.None, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            log.Daemon(request.Daemon, Severity.Warning, $"warning: banner to {request.ClientAddress} not sent: {ex.Message}");
        }
    }
}
