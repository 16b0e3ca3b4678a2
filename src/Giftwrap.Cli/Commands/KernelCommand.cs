// `giftwrap kernel sync|status|flush`: the kernel side for hosts that run no gate (sshd
// without libwrap, Fail2ban-style setups). sync writes table inet giftwrap from the ban
// store and the tables in one transaction (with --follow it stays, as serve's kernel side
// does); status compares the kernel with the store and shows per daemon which ranges the
// kernel drops and which rules kept the others out; flush removes the table (only ours).
// Exit status: 0 done (status: in step), 1 drift or nft failed, 2 bad configuration.
using System.CommandLine;
using System.Runtime.InteropServices;
using Giftwrap.Bans;
using Giftwrap.Kernel;

namespace Giftwrap.Cli.Commands;

internal static class KernelCommand
{
    public static Command Create()
    {
        var command = new Command("kernel", "Bans and address rules in the kernel (nftables table inet giftwrap), for hosts that run no gate.");
        command.Add(Sub("sync", "Write the table from the ban store and the tables in one transaction; --follow keeps it in step until stopped.", follow: true));
        command.Add(Sub("status", "Compare the kernel's table with the ban store; show per daemon what the kernel drops and which rules kept the rest out.", follow: false));
        command.Add(Sub("flush", "Remove table inet giftwrap from the kernel (no other table is touched).", follow: false));
        return command;
    }

    private static Command Sub(string name, string description, bool follow)
    {
        var config = new Option<string?>("--config") { Description = $"The configuration file (default {Settings.DefaultPath})." };
        var followOption = new Option<bool>("--follow") { Description = "Stay and follow the store, the tables and the ruleset until SIGTERM." };
        var command = new Command(name, description) { config };
        if (follow)
            command.Add(followOption);
        command.SetAction(async (result, ct) =>
        {
            var path = result.GetValue(config);
            // Read and checked as serve does (every error, each at its file:line): the kernel side
            // of a configuration the gate would refuse is not written either.
            var all = Settings.ForTools(path ?? Settings.DefaultPath, missingIsEmpty: path is null);
            var file = all.File;
            var bans = all.Bans is { } b ? BanCommands.WithKeep(b, file) : null;
            var settings = all.Kernel!;
            if (file.Errors.Count > 0)
            {
                foreach (var e in file.Errors)
                    await Console.Error.WriteLineAsync($"giftwrap: {e}").ConfigureAwait(false);
                return 2;
            }
            return name switch
            {
                "sync" => await SyncAsync(settings, bans, follow && result.GetValue(followOption), ct).ConfigureAwait(false),
                "status" => await StatusAsync(settings, bans, ct).ConfigureAwait(false),
                _ => await FlushAsync(settings, ct).ConfigureAwait(false),
            };
        });
        return command;
    }

    private static BanStore? Open(BanOptions? bans, bool watch)
    {
        if (bans is null)
            return null;
        // A store that does not exist yet holds no bans; reading must not create it.
        if (!Directory.Exists(bans.Store))
            return null;
        return BanStore.Open(bans, watch);
    }

    private static async Task<int> SyncAsync(KernelSettings settings, BanOptions? bans, bool follow, CancellationToken ct)
    {
        using var store = Open(bans, watch: follow);
        await using var kernel = new KernelSync(store, settings.Options, new KernelConsoleLog());
        if (settings.Rules(live: follow) is { } rules)
            kernel.Use(rules);
        if (!follow)
        {
            var report = await kernel.ReconcileAsync("sync", ct).ConfigureAwait(false);
            if (report.Error is not null)
                return 1;
            // In step or not, the whole table is written once more: the address rules are compiled afresh.
            if (!report.Rewritten && !await kernel.RewriteAsync("sync", ct).ConfigureAwait(false))
                return 1;
            Console.Out.WriteLine($"table inet {KernelOptions.Table}: {kernel.Elements} ban element(s), {kernel.Daemons.Count} daemon port(s) with address rules"
                + (report.Drifted ? $"; it had drifted: {KernelSync.Describe(report)}" : ""));
            return 0;
        }
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        var ok = await kernel.StartAsync().ConfigureAwait(false);
        Console.Out.WriteLine($"table inet {KernelOptions.Table}: {kernel.Elements} ban element(s); following the store{(ok ? "" : " (the first write failed; retrying)")}");
        using (ct.Register(() => stop.TrySetResult()))
            await stop.Task.ConfigureAwait(false);
        return 0;
    }

    private static async Task<int> StatusAsync(KernelSettings settings, BanOptions? bans, CancellationToken ct)
    {
        using var store = Open(bans, watch: false);
        await using var kernel = new KernelSync(store, settings.Options, new KernelConsoleLog());
        var (contents, error) = await kernel.ReadAsync(ct).ConfigureAwait(false);
        if (contents is null)
        {
            await Console.Error.WriteLineAsync($"giftwrap: cannot read table inet {KernelOptions.Table}: {error}").ConfigureAwait(false);
            return 1;
        }
        var o = Console.Out;
        // Check only: tells which hook a write would use now, and why when it is not prerouting.
        var fallback = await kernel.ProbeHookAsync(ct).ConfigureAwait(false);
        o.WriteLine($"nftables:  {(settings.Enabled ? "yes" : "no")} ([kernel] nftables)");
        o.WriteLine($"hook:      {Hook(contents.Exists ? contents.Hook : kernel.Hook, contents.Exists)}{(fallback is null ? "" : $" (the kernel refuses a prerouting chain with fib: {fallback}; drops go to the input hook, after conntrack)")}");
        var banPorts = settings.Options.Ports.Where(p => !p.Service).ToList();
        o.WriteLine($"ban ports: {(banPorts.Count == 0 ? "every TCP port" : string.Join(" ", banPorts.Select(p => p.Port).Distinct()))}");
        using var rules = settings.Rules(live: false);
        var inStep = contents.Exists;
        if (!contents.Exists)
        {
            o.WriteLine($"table:     inet {KernelOptions.Table} is not in the kernel");
        }
        else
        {
            var report = kernel.Compare(contents, [.. (rules?.Ports ?? []).Select(p => (IReadOnlyList<int>)[p.Port])]);
            o.WriteLine($"table:     inet {KernelOptions.Table}: {contents.Elements.Count} ban element(s) (store wants {report.Elements})");
            o.WriteLine($"in step:   {(report.Drifted ? "no: " + KernelSync.Describe(report) : "yes")}");
            inStep = !report.Drifted;
        }
        if (rules is not null)
            Daemons(o, rules, contents);
        return inStep ? 0 : 1;
    }

    private static string Hook(KernelHook? hook, bool exists) => hook switch
    {
        KernelHook.Prerouting => $"prerouting, priority raw - 10 (before conntrack), packets for this host only (fib daddr type local){(exists ? "" : " when written")}",
        KernelHook.Input => $"input, priority filter - 10{(exists ? "" : " when written")}",
        _ => "none: the table has no drop chain",
    };

    /// <summary>Per daemon:port: the sets in the kernel, the refused ranges, and the rules (file:line) that kept the other ranges out.</summary>
    private static void Daemons(TextWriter o, KernelRules rules, KernelContents contents)
    {
        var byDaemon = contents.Comments.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => g.Select(kv => kv.Key).ToList());
        foreach (var (port, verdicts) in rules.Ports.Zip(rules.Verdicts()))
        {
            // The sets carry the daemon name as nft takes a comment (cut to its 128 bytes).
            var comment = NftScript.Comment(port.Daemon!);
            var inKernel = contents.Others.Where(kv => contents.Comments.TryGetValue(kv.Key, out var d) && d == comment).Sum(kv => kv.Value.Count);
            o.WriteLine($"{port}: {verdicts.Refused.Count} range(s) refused by the tables whatever the lookups; {inKernel} element(s) in the kernel's drop sets{(byDaemon.ContainsKey(comment) ? "" : " (no set: not written yet)")}");
            foreach (var r in verdicts.Refused.Take(20))
                o.WriteLine($"  dropped  {r}");
            if (verdicts.Refused.Count > 20)
                o.WriteLine($"  ... and {verdicts.Refused.Count - 20} more");
            foreach (var h in verdicts.Held.Take(20))
                o.WriteLine($"  held     {h.Range}: {h.Reason}{(h.Line > 0 ? $" ({h.File}:{h.Line})" : "")}");
            if (verdicts.Held.Count > 20)
                o.WriteLine($"  ... and {verdicts.Held.Count - 20} more held range(s)");
        }
    }

    private static async Task<int> FlushAsync(KernelSettings settings, CancellationToken ct)
    {
        await using var kernel = new KernelSync(null, settings.Options, new KernelConsoleLog());
        if (await kernel.RemoveAsync(ct).ConfigureAwait(false) is { } error)
        {
            await Console.Error.WriteLineAsync($"giftwrap: cannot remove table inet {KernelOptions.Table}: {error}").ConfigureAwait(false);
            return 1;
        }
        Console.Out.WriteLine($"table inet {KernelOptions.Table} removed{(settings.Enabled ? " (a running serve with [kernel] nftables = yes writes it again)" : "")}");
        return 0;
    }
}
