// `giftwrap edit` (like visudo) and `giftwrap confirm`: edit a copy of a table in
// $EDITOR, check it (syntax, shadowing, the lockout check), show what it changes for
// recent real connections, ask, then replace the table atomically and keep the
// previous version. With --confirm-within, a detached process puts the previous
// table back at the deadline unless `giftwrap confirm` ran, even if this session died.
using System.CommandLine;
using System.Diagnostics;
using Giftwrap.Bans.Storage;
using Giftwrap.Checks;
using Giftwrap.Hosting;
using Giftwrap.Rules;

namespace Giftwrap.Cli.Commands;

internal static class EditCommand
{
    public const string PendingSuffix = ".giftwrap-pending";
    private const string ConfirmedSuffix = ".giftwrap-confirmed";
    private const string RevertingSuffix = ".giftwrap-reverting";
    private const string RevertedSuffix = ".giftwrap-reverted";
    public const string PreviousSuffix = ".giftwrap-previous";

    public static IEnumerable<Command> Create()
    {
        var tables = new TableOptions();
        var which = new Argument<string>("table") { Description = "allow or deny (default allow).", Arity = ArgumentArity.ZeroOrOne, DefaultValueFactory = _ => "allow" };
        var config = new Option<string?>("--config") { Description = "The configuration with [safety] keep and [log] decisions." };
        var within = new Option<string?>("--confirm-within") { Description = "Put the previous table back after this long (e.g. 5m) unless `giftwrap confirm` runs." };
        var yes = new Option<bool>("--yes") { Description = "Do not ask before replacing the table." };
        var edit = new Command("edit", "Edit a table safely: check it, show what it changes, replace it atomically, optionally revert unless confirmed.") { which, config, within, yes };
        tables.AddTo(edit);
        edit.SetAction(result =>
        {
            var (allow, deny) = tables.Resolve(result);
            return Run(result.GetValue(which) == "deny", allow, deny, result.GetValue(config), result.GetValue(within), result.GetValue(yes));
        });

        var confirmTables = new TableOptions();
        var confirm = new Command("confirm", "Keep the tables changed by `giftwrap edit --confirm-within`.");
        confirmTables.AddTo(confirm);
        confirm.SetAction(result =>
        {
            var (allow, deny) = confirmTables.Resolve(result);
            var confirmed = 0;
            var late = 0;
            foreach (var t in new[] { allow, deny })
            {
                // The pending file is claimed by renaming it, as the reverter claims it: of a confirm
                // and a revert at the deadline exactly one wins, and a confirm never says "confirmed"
                // of a change the reverter is putting back.
                if (Claim(t + PendingSuffix, t + ConfirmedSuffix))
                {
                    File.Delete(t + ConfirmedSuffix);
                    Console.Out.WriteLine($"{t}: change confirmed");
                    confirmed++;
                }
                else if (File.Exists(t + RevertingSuffix) || File.Exists(t + RevertedSuffix))
                {
                    var when = File.Exists(t + RevertedSuffix) ? File.ReadAllText(t + RevertedSuffix).Trim() : "now";
                    File.Delete(t + RevertedSuffix);
                    Console.Error.WriteLine($"giftwrap confirm: {t}: too late: the previous version was put back ({when}); edit it again");
                    late++;
                }
            }
            if (confirmed == 0 && late == 0)
                Console.Out.WriteLine("nothing to confirm");
            return late > 0 ? 1 : 0;
        });

        var at = new Option<long>("--at") { Required = true, Description = "The deadline, in Unix seconds." };
        var table = new Option<string>("--table") { Required = true, Description = "The table to put back." };
        var backup = new Option<string>("--backup") { Required = true, Description = "The previous version to put back." };
        var token = new Option<string>("--token") { Required = true, Description = "The token `giftwrap confirm` removes to keep the change." };
        var revert = new Command("revert-unless-confirmed", "(internal) Put a table back at a deadline unless confirmed.") { at, table, backup, token };
        revert.Hidden = true;
        revert.SetAction(async (result, ct) =>
        {
            var deadline = DateTimeOffset.FromUnixTimeSeconds(result.GetValue(at));
            var delay = deadline - DateTimeOffset.UtcNow;
            if (delay > TimeSpan.Zero)
                await Task.Delay(delay, ct).ConfigureAwait(false);
            var t = result.GetValue(table)!;
            var pending = t + PendingSuffix;
            var mine = result.GetValue(token);
            // Confirmed (pending file gone) or superseded by a newer edit (another token): leave it.
            if (!File.Exists(pending) || File.ReadAllText(pending).Trim() != mine || !Claim(pending, t + RevertingSuffix))
                return 0;
            if (File.ReadAllText(t + RevertingSuffix).Trim() != mine)
            {
                // A newer edit wrote its own between the look and the claim: it is its reverter's.
                _ = Claim(t + RevertingSuffix, pending);
                return 0;
            }
            AtomicReplace(t, File.ReadAllBytes(result.GetValue(backup)!));
            File.WriteAllText(t + RevertedSuffix, $"at {DateTimeOffset.UtcNow:u}\n");
            File.Delete(t + RevertingSuffix);
            return 0;
        });
        return [edit, confirm, revert];
    }

    private static int Run(bool editDeny, string allow, string deny, string? config, string? within, bool yes)
    {
        var target = editDeny ? deny : allow;
        TimeSpan? window = null;
        if (within is not null)
        {
            if (!Giftwrap.Configuration.Duration.TryParse(within, out var w) || w <= TimeSpan.Zero)
            {
                Console.Error.WriteLine($"giftwrap edit: --confirm-within {within}: not a duration (e.g. 90s, 5m)");
                return 2;
            }
            window = w;
        }
        // A table that is there but is no regular file: a directory would reach the editor as an empty
        // table and fail only at the rename, and reading a FIFO waits for a writer.
        if (Giftwrap.Tables.TableFile.NotRegular(target) is { } what)
        {
            Console.Error.WriteLine($"giftwrap edit: cannot edit {target}: {what}, not a regular file");
            return 1;
        }
        var directory = Path.GetDirectoryName(Path.GetFullPath(target))!;
        var draft = Path.Combine(directory, $".{Path.GetFileName(target)}.giftwrap-edit-{Environment.ProcessId}");
        byte[] original;
        try
        {
            original = File.Exists(target) ? File.ReadAllBytes(target) : [];
            WriteDraft(draft, original);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            // The draft lives beside the table so the final rename is atomic: without the right to
            // write there, the table could not be replaced either. Nothing was changed.
            var why = ex is UnauthorizedAccessException ? "permission denied" : StoreProblems.Words(ex.Message);
            Console.Error.WriteLine($"giftwrap edit: cannot edit {target}: {why} (reading it and writing in {directory}); run it as root (sudo giftwrap edit), or name tables you may write with --allow and --deny");
            return 1;
        }
        try
        {
            // Set but empty counts as unset, as git and visudo read them (else the draft itself was run).
            var editor = new[] { "VISUAL", "EDITOR" }.Select(Environment.GetEnvironmentVariable).FirstOrDefault(e => !string.IsNullOrWhiteSpace(e)) ?? "vi";
            using (var p = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", editor + " \"$1\"", "sh", draft]))!)
            {
                p.WaitForExit();
                if (p.ExitCode != 0)
                {
                    Console.Error.WriteLine($"giftwrap edit: the editor ({editor}) exited with status {p.ExitCode}; {target} is untouched");
                    return 1;
                }
            }
            var edited = File.ReadAllBytes(draft);
            if (edited.Length == 0 && original.Length > 0)
            {
                Console.Error.WriteLine($"giftwrap edit: the edited table is empty; {target} is untouched (empty it with a comment line if you mean it)");
                return 1;
            }
            if (edited.AsSpan().SequenceEqual(original))
            {
                Console.Out.WriteLine($"giftwrap edit: no change to {target}");
                return 0;
            }
            var newAllow = editDeny ? allow : draft;
            var newDeny = editDeny ? draft : deny;
            var report = TableChecker.Check(newAllow, newDeny);
            var lockouts = CheckCommand.Lockouts(newAllow, newDeny, config);
            var problems = report.Diagnostics.Where(d => d.Severity != DiagnosticSeverity.Info).Concat(lockouts).ToList();
            foreach (var d in problems)
                Console.Out.WriteLine(d.ToString().Replace(draft, target, StringComparison.Ordinal));
            if (problems.Any(d => d.Severity == DiagnosticSeverity.Error))
            {
                Console.Error.WriteLine($"giftwrap edit: the change has errors (see above); {target} is untouched. Your edit is kept in {Keep(draft)}");
                return 1;
            }
            ShowReplay(allow, deny, newAllow, newDeny, config);
            if (!yes && !Ask($"Replace {target}? [y/N] "))
            {
                Console.Out.WriteLine($"{target} is untouched");
                return 1;
            }
            // Another edit, or `giftwrap ban` keeping its block of hosts.deny, may have written the table
            // meanwhile: replacing it with the copy taken before would undo that change without a word.
            var now = File.Exists(target) ? File.ReadAllBytes(target) : [];
            if (!now.AsSpan().SequenceEqual(original))
            {
                Console.Error.WriteLine($"giftwrap edit: {target} changed while you edited it (another edit, or a ban written to it); it is left as it is now. Your edit is kept in {Keep(draft)}: edit again and carry it over");
                return 1;
            }
            var previous = target + PreviousSuffix;
            try
            {
                AtomicReplace(previous, original, like: target);
                AtomicReplace(target, edited);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A full disk, most often: the rename never happened, so the table is whole; the edit is not lost.
                Console.Error.WriteLine($"giftwrap edit: cannot replace {target}: {OperatorError.Describe(ex)}; it is untouched. Your edit is kept in {Keep(draft)}");
                return 1;
            }
            Console.Out.WriteLine($"{target} replaced; the previous version is in {previous}");
            if (window is { } wnd)
                ScheduleRevert(target, previous, wnd);
            return 0;
        }
        finally
        {
            File.Delete(draft);
        }
    }

    /// <summary>Keeps the edited copy beside the table when it cannot replace it; returns its name. A rename: it needs no disk space.</summary>
    private static string Keep(string draft)
    {
        File.Move(draft, draft + ".kept", overwrite: true);
        return draft + ".kept";
    }

    private static void ShowReplay(string allow, string deny, string newAllow, string newDeny, string? config)
    {
        var file = Settings.ForTools(config ?? ServeCommand.DefaultConfig, missingIsEmpty: true).File;
        // A broken configuration (by serve's rules) was reported by the lockout check, which refused the edit.
        if (file.Errors.Count > 0 || file.Get("log", "decisions") is not { } log || !File.Exists(log))
            return;
        using var stream = File.OpenRead(log);
        var stats = new Giftwrap.Replay.LogStats();
        using var current = new Giftwrap.Tables.AccessTables(allow, deny, new Giftwrap.Tables.AccessTablesOptions { Live = false });
        using var proposed = new Giftwrap.Tables.AccessTables(newAllow, newDeny, new Giftwrap.Tables.AccessTablesOptions { Live = false });
        var r = Giftwrap.Replay.Replayer.Run(Giftwrap.Replay.LogReader.DecisionLog(stream, stats), stats, current, proposed);
        // Bounded like replay's (Replayer.DefaultMaxDistinct), and written as it is formed.
        Console.Out.Write("What this change does to recent connections (" + log + "):\n");
        ReplayCommand.Text(r, Console.Out);
    }

    private static bool Ask(string question)
    {
        Console.Out.Write(question);
        Console.Out.Flush();
        var answer = Console.In.ReadLine();
        return answer is not null && answer.Trim().StartsWith('y');
    }

    /// <summary>
    /// The copy the editor gets, readable by its owner only: the table may be one others may not read
    /// (hosts.allow 0640). Made anew (O_EXCL), so a link planted under its name is not followed.
    /// </summary>
    private static void WriteDraft(string draft, byte[] content)
    {
        File.Delete(draft);
        using var fs = new FileStream(draft, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite });
        fs.Write(content);
    }

    /// <summary>
    /// Writes a sibling temp file, syncs it, renames it over the table: readers see the old or the new table, never half.
    /// Through a symlink the file it names is replaced and the link kept. The new file has the mode and owner of the
    /// one replaced (of <paramref name="like"/> when given: the previous version is no more readable than the table),
    /// and is never readable by others while it is written. A write that fails (a full disk) leaves no temp file.
    /// </summary>
    internal static void AtomicReplace(string path, byte[] content, string? like = null)
    {
        var full = Native.FileBehind(path);
        like = like is null ? full : Native.FileBehind(like);
        var temp = $"{full}.giftwrap-tmp-{Environment.ProcessId}";
        try
        {
            File.Delete(temp);
            using (var fs = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite }))
            {
                fs.Write(content);
                if (File.Exists(like))
                {
                    // Owner first: fchown(2) clears set-id bits that the mode then puts back.
                    if (Native.Owner(like) is { } owner)
                        Native.SetOwner(fs.SafeFileHandle, owner.Uid, owner.Gid);
                    File.SetUnixFileMode(fs.SafeFileHandle, File.GetUnixFileMode(like));
                }
                else
                {
                    // A new table: libwrap-linked daemons running as other users must be able to read it.
                    File.SetUnixFileMode(fs.SafeFileHandle, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            Native.FsyncDirectory(Path.GetDirectoryName(full)!);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>
    /// Renames <paramref name="from"/> to <paramref name="to"/>; false when it was gone. rename(2), one of
    /// two claimants wins (overwrite: without it .NET links and unlinks, and both could).
    /// </summary>
    private static bool Claim(string from, string to)
    {
        try
        {
            File.Move(from, to, overwrite: true);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private static void ScheduleRevert(string table, string backup, TimeSpan window)
    {
        var token = Guid.NewGuid().ToString("N");
        File.Delete(table + RevertedSuffix);
        File.WriteAllText(table + PendingSuffix, token + "\n");
        var deadline = DateTimeOffset.UtcNow.Add(window).ToUnixTimeSeconds();
        var self = Environment.ProcessPath!;
        string[] argv = Path.GetFileNameWithoutExtension(self) == "dotnet"
            ? [self, Environment.GetCommandLineArgs()[0]]
            : [self];
        // A new session, stdio on /dev/null: the reverter outlives this terminal and this process.
        _ = ProcessLauncher.Start([.. argv, "revert-unless-confirmed", "--at", deadline.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--table", Path.GetFullPath(table), "--backup", Path.GetFullPath(backup), "--token", token], new ProcessState(), -1);
        Console.Out.WriteLine($"the previous {table} comes back at {DateTimeOffset.FromUnixTimeSeconds(deadline):u} unless you run: giftwrap confirm");
    }
}
