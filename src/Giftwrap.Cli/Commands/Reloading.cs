// What SIGHUP reads. A configuration rewritten in place (an editor that truncates and writes,
// `cat > giftwrap.conf`) can be caught half written; read then, the tail is missing, and a
// missing [tables] would silently mean /etc/hosts.allow and /etc/hosts.deny. So a reload is
// taken only when the file is complete by these rules, and otherwise refused with the running
// configuration kept (a later SIGHUP, once the writer is done, takes it):
//   1. the file ends with a newline (a cut file usually ends inside a line);
//   2. every section the running configuration had is still there (a cut loses the tail's
//      sections; to remove a section on purpose, restart the gate);
//   3. two reads of the file give the same bytes (a writer still at work shows up);
//   4. the whole configuration is valid, as at start.
using Giftwrap.Configuration;
using Giftwrap.Tables;

namespace Giftwrap.Cli.Commands;

internal sealed record ReloadResult(ServeSettings? Settings, IReadOnlyList<string> Errors);

internal static class Reloading
{
    public static ReloadResult Read(string path, IEnumerable<ConfigOverride> switches, string? inetd, ConfigFile running)
    {
        var errors = new List<string>();
        if (running.Exists && Complete(path, errors) is false)
            return new ReloadResult(null, errors);
        var settings = Settings.ForServe(path, switches, inetd);
        errors.AddRange(settings.File.Errors);
        foreach (var section in running.SectionNames)
        {
            if (!settings.File.HasSection(section))
                errors.Add($"{path}: [{section}] is gone (it was at line {running.Section(section)!.Header.Line}): the file may be half written; to remove a section, restart the gate");
        }
        return new ReloadResult(errors.Count == 0 ? settings : null, errors);
    }

    /// <summary>Rules 1 and 3: the same bytes twice, ending with a newline.</summary>
    private static bool Complete(string path, List<string> errors)
    {
        // Read as the configuration reader reads it (no FIFO waited on, no device read without end, a bounded size);
        // a file that cannot be read so is reported in words by rule 4.
        var read = ConfigFile.ReadBytes(path, out var first, out _) == ReadOutcome.Read;
        if (!read || ConfigFile.ReadBytes(path, out var second, out _) != ReadOutcome.Read)
            return true;
        if (!first.AsSpan().SequenceEqual(second))
            errors.Add($"{path}: the file changed while it was read: it is being written; send SIGHUP again when it is done");
        else if (first.Length > 0 && first[^1] != (byte)'\n')
            errors.Add($"{path}: the last line has no newline: the file may be half written (end it with a newline)");
        return errors.Count == 0;
    }
}
