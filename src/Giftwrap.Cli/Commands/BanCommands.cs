// `giftwrap ban`, `giftwrap unban`, `giftwrap bans`: the local ban store from the shell.
// Input is checked in full before the store is opened: a malformed address, duration or
// daemon list changes nothing. `ban` refuses the address of the SSH session it runs in
// (the first field of $SSH_CONNECTION) unless --force: locking yourself out is the
// classic mistake. Exit status: 0 done (or nothing to do, asked with --unless-banned or
// --if-banned), 1 refused, nothing to do or the store unusable, 2 bad input or configuration.
using System.CommandLine;
using System.Net;
using Giftwrap.Bans;

namespace Giftwrap.Cli.Commands;

public static class BanCommands
{
    /// <summary>The three commands, to add to the root command.</summary>
    public static IEnumerable<Command> Create() => [BanCommand(), UnbanCommand(), ListCommand()];

    private static Option<string> ConfigOption() =>
        new("--config") { Description = $"The configuration file whose [bans] section is used (default {BanOptions.DefaultConfigPath})." };

    private static Command BanCommand()
    {
        var config = ConfigOption();
        var target = new Argument<string>("ADDRESS|CIDR") { Description = "An IPv4 or IPv6 address or prefix (192.0.2.7, 10.0.0.0/8, 2001:db8::/64)." };
        var duration = new Option<string?>("--for") { Description = "How long: 30s, 10m, 1h, 2d, 1w, seconds, or permanent (default [bans] ban_time; repeat offenders get longer)." };
        var reason = new Option<string?>("--reason") { Description = "Why, for `giftwrap bans` and the fleet." };
        var daemons = new Option<string?>("--daemon") { Description = "Daemon list the ban applies to (sshd,vsftpd); default every daemon." };
        var force = new Option<bool>("--force") { Description = "Ban even the address of the current SSH session." };
        var unlessBanned = new Option<bool>("--unless-banned")
        {
            Description = "Change nothing when the address or prefix is banned already (a ban restored by Fail2ban after its restart: no second offence).",
        };
        var command = new Command("ban", "Ban an address or prefix on this host.") { target, duration, reason, daemons, force, unlessBanned, config };
        command.SetAction(result => Ban(
            result.GetValue(target)!, result.GetValue(duration), result.GetValue(reason), result.GetValue(daemons), result.GetValue(force), result.GetValue(config),
            result.GetValue(unlessBanned)));
        return command;
    }

    private static Command UnbanCommand()
    {
        var config = ConfigOption();
        var target = new Argument<string>("ADDRESS|CIDR") { Description = "The address or prefix, as it was banned." };
        var ifBanned = new Option<bool>("--if-banned")
        {
            Description = "Succeed, changing nothing, when the address or prefix is not banned (Fail2ban's unban of a ban that ended already).",
        };
        var command = new Command("unban", "End the ban on an address or prefix.") { target, ifBanned, config };
        command.SetAction(result => Unban(result.GetValue(target)!, result.GetValue(config), result.GetValue(ifBanned)));
        return command;
    }

    private static Command ListCommand()
    {
        var config = ConfigOption();
        var json = new Option<bool>("--json") { Description = "Print the bans as JSON." };
        var command = new Command("bans", "List the active bans: address, daemons, reason, origin, time left.") { json, config };
        command.SetAction(result => List(result.GetValue(json), result.GetValue(config)));
        return command;
    }

    private static int Ban(string targetText, string? durationText, string? reason, string? daemonText, bool force, string? config, bool unlessBanned = false)
    {
        var errors = new List<string>();
        if (!BanTarget.TryParse(targetText, out var target, out var targetError))
            errors.Add(targetError);
        TimeSpan? duration = null;
        if (durationText is not null && !BanDuration.TryParse(durationText, out duration, out var durationError))
            errors.Add($"--for: {durationError}");
        var daemons = BanOutput.ParseDaemons(daemonText, errors);
        if (errors.Count > 0)
            return Fail(errors, 2);
        if (!force && SshClient() is { } ssh && target.Contains(ssh))
            return Fail([$"refusing to ban {target}: it covers {ssh}, the address of this SSH session ($SSH_CONNECTION); use --force to ban it anyway"], 1);
        if (OpenStore(config, write: true, out var status) is not { } store)
            return status;
        using (store)
        {
            // Fail2ban bans again, at its start, every ban it restores from its database; the store
            // would count each as a new offence and escalate it, so its action asks for this.
            if (unlessBanned && store.List(store.Options.Time.GetUtcNow()).FirstOrDefault(e => e.Target == target) is { } held)
            {
                Console.Out.WriteLine($"{target} is banned already ({BanDuration.Format(held.TimeLeft(store.Options.Time.GetUtcNow()))} left): unchanged");
                return 0;
            }
            var request = new BanRequest
            {
                Target = target,
                Duration = duration,
                Permanent = durationText is not null && duration is null,
                Reason = reason ?? "",
                Daemons = daemons,
            };
            BanResult result;
            try
            {
                result = store.Ban(request);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Written nowhere: the journal refused the write (permissions, a full disk).
                return Fail([StoreProblems.Describe(store.Options.Store, "", ex)], 1);
            }
            if (!result.Succeeded)
                return Fail([result.Message], result.Outcome == BanOutcome.Invalid ? 2 : 1);
            Console.Out.WriteLine(result.Message);
            return 0;
        }
    }

    private static int Unban(string targetText, string? config, bool ifBanned = false)
    {
        if (!BanTarget.TryParse(targetText, out var target, out var error))
            return Fail([error], 2);
        if (OpenStore(config, write: true, out var status) is not { } store)
            return status;
        using (store)
        {
            BanResult result;
            try
            {
                result = store.Unban(target);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return Fail([StoreProblems.Describe(store.Options.Store, "", ex)], 1);
            }
            if (!result.Succeeded)
            {
                var covering = store.List(DateTimeOffset.UtcNow).Where(e => e.Target != target && e.Target.Overlaps(target)).Select(e => e.Target.ToString()).ToList();
                var hint = covering.Count > 0 ? $" (covered by: {string.Join(", ", covering)})" : "";
                // Fail2ban unbans at the end of its own ban time, which Giftwrap's may have reached first:
                // its action asks for this so that a store it cannot use still fails the unban (both were status 1).
                if (ifBanned && result.Outcome == BanOutcome.NotBanned)
                {
                    Console.Out.WriteLine($"{result.Message}{hint}: unchanged");
                    return 0;
                }
                return Fail([result.Message + hint], 1);
            }
            Console.Out.WriteLine(result.Message);
            return 0;
        }
    }

    private static int List(bool json, string? config)
    {
        if (OpenStore(config, write: false, out var status) is not { } store)
        {
            // Status 0 without a store: there is no store yet, so no bans (OpenStore said so on stderr).
            if (status == 0)
                Console.Out.Write(json ? BanOutput.Json([], DateTimeOffset.UtcNow) : BanOutput.Text([], DateTimeOffset.UtcNow));
            return status;
        }
        using (store)
        {
            var now = store.Options.Time.GetUtcNow();
            var bans = store.List(now);
            Console.Out.Write(json ? BanOutput.Json(bans, now) : BanOutput.Text(bans, now));
            return 0;
        }
    }

    /// <summary>The client address of the SSH session this command runs in, from $SSH_CONNECTION ("client port server port").</summary>
    internal static IPAddress? SshClient()
    {
        var text = Environment.GetEnvironmentVariable("SSH_CONNECTION");
        var first = text?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        return first is not null && IPAddress.TryParse(first, out var a) ? a : null;
    }

    /// <summary>
    /// The lockout check for bans: the clients under [safety] keep must stay granted, so a ban (and the
    /// hosts.deny block it writes) may never cover them. They join the protected addresses.
    /// </summary>
    internal static BanOptions WithKeep(BanOptions options, Giftwrap.Configuration.ConfigFile file)
    {
        if (file.Get("safety", "keep") is not { } keep)
            return options;
        var extra = new List<BanTarget>();
        foreach (var item in Giftwrap.Configuration.ConfigFile.Split(keep))
        {
            var host = item.Contains('@', StringComparison.Ordinal) ? item[(item.IndexOf('@', StringComparison.Ordinal) + 1)..] : item;
            if (BanTarget.TryParse(host.Trim('[', ']'), out var target, out _))
                extra.Add(target);
        }
        return extra.Count == 0 ? options : options with { Protect = [.. options.Protect, .. extra] };
    }

    private static BanStore? OpenStore(string? config, bool write, out int status)
    {
        status = 2;
        // The whole configuration is checked before the store is opened, by serve's rules: with any
        // error nothing is read or written, and never the default store in place of the one the
        // file meant (a gate that would not start on this file would not enforce the ban either).
        var path = config ?? BanOptions.DefaultConfigPath;
        var settings = Settings.ForTools(path, missingIsEmpty: config is null);
        var file = settings.File;
        // Without [bans] the store is the default one, as the gate's would be once the section is added.
        var options = WithKeep(settings.Bans ?? BanOptionsReader.FromFile(file), file);
        if (file.Errors.Count > 0)
        {
            Fail([.. file.Errors, $"{file.Errors.Count} error(s) in {path}; the ban store was not touched"], 2);
            return null;
        }
        var where = file.Where("bans", "store");
        status = 1;
        if (StoreProblems.KindProblem(options.Store) is { } kind)
        {
            Fail([$"{(where == path ? "" : where + ": ")}{kind}"], 1);
            return null;
        }
        if (!write && !Directory.Exists(options.Store))
        {
            Console.Error.WriteLine($"giftwrap: no ban store at {options.Store}{(where == path ? "" : $" ({where})")} yet: nothing was ever banned there");
            status = 0;
            return null;
        }
        if (StoreProblems.AccessProblem(options.Store, write) is { } access)
        {
            Fail([$"{(where == path ? "" : where + ": ")}{access}"], 1);
            return null;
        }
        try
        {
            BanStore store;
            using (TerminalProgress.Start($"loading bans from {options.Store} ({TerminalProgress.Size(StoreSize(options.Store))})"))
                store = BanStore.Open(options, watch: false);
            foreach (var p in store.Problems)
                Console.Error.WriteLine($"giftwrap: warning: {StoreProblems.Words(p.ToString())}");
            store.ProblemFound += (_, p) => Console.Error.WriteLine($"giftwrap: warning: {StoreProblems.Words(p.ToString())}");
            return store;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The store could not be read at all: say so; nothing was changed (and `bans` lists nothing).
            Fail([StoreProblems.Describe(options.Store, where == path ? "" : where, ex)], 1);
            return null;
        }
    }

    private static long StoreSize(string directory) =>
        TerminalProgress.FileSize(Path.Combine(directory, "snapshot")) + TerminalProgress.FileSize(Path.Combine(directory, "journal"));

    private static int Fail(IEnumerable<string> messages, int status)
    {
        foreach (var m in messages)
            Console.Error.WriteLine($"giftwrap: {m}");
        return status;
    }
}
