// The process attributes that a rule's options (setenv, umask, nice, user, group) accumulate for
// the programs started after them, as libwrap's process state does in the order of the options.
// Applying them to a program is left to ProcessLauncher.
using Giftwrap.Options;

namespace Giftwrap.Hosting;

/// <summary>The process attributes that options accumulate before a program starts.</summary>
internal sealed record ProcessState
{
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
    public int? Umask { get; init; }
    public int? Nice { get; init; }
    public string? User { get; init; }
    public string? Group { get; init; }

    /// <summary>The state after a process-state option (setenv, umask, nice, user, group); null for any other action.</summary>
    public ProcessState? With(RuleAction action) => action switch
    {
        SetEnvAction e => this with { Environment = new Dictionary<string, string>(Environment, StringComparer.Ordinal) { [e.Name] = e.VariableValue } },
        UmaskAction u => this with { Umask = u.Mask },
        NiceAction n => this with { Nice = (Nice ?? 0) + n.Increment },
        UserAction u => this with { User = u.User, Group = u.Group ?? Group },
        GroupAction g => this with { Group = g.Group },
        _ => null,
    };
}
