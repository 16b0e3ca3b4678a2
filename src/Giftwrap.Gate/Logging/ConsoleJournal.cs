// Whether the gate's console is the systemd journal, and so whether [log] console = auto keeps
// the per-connection lines off it. systemd.exec(5): a service whose stdout or stderr is connected
// to the journal gets JOURNAL_STREAM=DEV:INODE, the st_dev and st_ino of that connection, and a
// process compares them with the descriptor it writes to: fd 2 here, where GateLog's console goes
// (a variable inherited by a child whose stderr went elsewhere no longer matches). The lines are
// written by GateLog; the mode is read by GateConfigLoader.
using Giftwrap.Gate.Config;
using Giftwrap.Interop;

namespace Giftwrap.Gate.Logging;

internal static class ConsoleJournal
{
    /// <summary>The descriptor of the console (Console.Error).</summary>
    private const int Stderr = 2;

    /// <summary>
    /// Whether libwrap's per-connection lines go to the console. auto says no only when the console is the journal and
    /// syslog is on: journald also reads /dev/log, so both would put every decision in the journal, twice.
    /// </summary>
    public static bool DaemonLines(ConsoleMode mode, bool syslogOn, string? journalStream) => mode switch
    {
        ConsoleMode.On => true,
        ConsoleMode.Off => false,
        _ => !(syslogOn && IsJournal(journalStream, Stderr)),
    };

    /// <summary>
    /// True when <paramref name="journalStream"/> (JOURNAL_STREAM) names the file open at <paramref name="fd"/>. A value that
    /// does not parse, or a descriptor that cannot be examined, is not the journal: the console then keeps every line.
    /// </summary>
    public static bool IsJournal(string? journalStream, int fd)
    {
        // A struct statx this build does not know for the machine would be misread: then not the journal.
        if (!TryParse(journalStream, out var device, out var inode) || Statx.LayoutError() is not null)
            return false;
        return Statx.Get(fd, Statx.InodeBit, out var st) == 0 && (st.Mask & Statx.InodeBit) != 0 && st.Device == device && st.Inode == inode;
    }

    /// <summary>DEV:INODE, both in decimal, as systemd writes them.</summary>
    internal static bool TryParse(string? text, out ulong device, out ulong inode)
    {
        device = inode = 0;
        var colon = text?.IndexOf(':', StringComparison.Ordinal) ?? -1;
        return colon > 0
            && ulong.TryParse(text.AsSpan(0, colon), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out device)
            && ulong.TryParse(text.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out inode);
    }
}
