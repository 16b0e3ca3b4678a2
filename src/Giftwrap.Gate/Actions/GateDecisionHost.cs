// The gate as a host of DecisionEngine, for one client: lines to the gate's log (syslog tagged with
// the daemon, and the console), twist started on the client's descriptor, and every program of a
// rule within the gate's [actions] bounds (ProgramLimits). The order of the options is the engine's.
using System.Net.Sockets;
using Giftwrap.Gate.Logging;
using Giftwrap.Hosting;

namespace Giftwrap.Gate.Actions;

/// <param name="client">The client's socket (a connection, or a datagram service's socket).</param>
/// <param name="log">Where the lines go.</param>
/// <param name="bannerTimeout">How long a banner may take to send.</param>
/// <param name="programs">The gate's bounds on the programs of rules; null: none.</param>
internal sealed class GateDecisionHost(Socket? client, GateLog log, TimeSpan bannerTimeout, ProgramLimits? programs)
    : SocketDecisionHost(client, bannerTimeout)
{
    public override TwistSupport Twist => TwistSupport.Start;

    public override void Log(in LibwrapLine line) => log.Write(line);

    /// <summary>
    /// Over the gate's bounds a program is not started (status -1, as a program that could not start: a twist
    /// then closes the connection, a failed aclexec refuses); the refusal is counted and summarised by <see cref="ProgramLimits"/>.
    /// </summary>
    public override Task<ChildExit> StartAsync(ProgramStart program)
    {
        if (programs is null)
            return base.StartAsync(program);
        if (!programs.TryEnter(program.Decision.Match?.ToString() ?? "(no rule)", program.Request.Daemon))
            return Task.FromResult(ChildExit.NotStarted);
        int pid;
        try
        {
            pid = ProcessLauncher.Start(program.Argv, program.State, StdioOf(program));
        }
        catch (IOException)
        {
            // Its place is given back; the engine says why it did not start.
            programs.NotStarted();
            throw;
        }
        var exited = ChildReaper.WatchExit(pid);
        programs.Started(pid, exited);
        return exited;
    }
}
