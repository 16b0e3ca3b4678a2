// The programs of a rule's options (spawn, aclexec) outside DecisionEngine (a host that runs
// them on its own): the process state that setenv, umask, nice, user and group build up, then
// /bin/sh -c with stdio on /dev/null, reaped by ChildReaper. Deciding which options apply, and
// logging, stay with the caller.
using Giftwrap.Options;

namespace Giftwrap.Hosting;

/// <summary>
/// Runs the programs one matched rule asks for, in order, each with the process state the
/// rule's earlier options built (hosts_options(5): setenv, umask, nice, user, group). One
/// instance per decision; not thread-safe.
/// </summary>
internal sealed class RulePrograms
{
    private ProcessState _state = new();

    /// <summary>
    /// Takes note of a process-state option (setenv, umask, nice, user, group) for the programs
    /// started after it. Returns false for any other action, which is left to the caller.
    /// </summary>
    public bool Apply(RuleAction action)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (_state.With(action) is not { } next)
            return false;
        _state = next;
        return true;
    }

    /// <summary>
    /// Runs <paramref name="command"/> with /bin/sh, stdio on /dev/null, and completes with its
    /// exit status (128 + signal when killed) as libwrap's shell_cmd() waits for it.
    /// Throws <see cref="IOException"/> when the program cannot be started.
    /// </summary>
    public Task<int> RunAsync(string command)
    {
        ArgumentNullException.ThrowIfNull(command);
        return ChildReaper.Watch(ProcessLauncher.Start(ProcessLauncher.ShellCommand(command), _state, -1));
    }
}
