// The configuration as each command takes it, through the one reader (ConfigFile): the file,
// GIFTWRAP_section__key variables on top for every command (so `ban` writes to the store the
// gate reads), and serve's --section:key=value switches. A configuration with any error is
// not used by any command: serve does not start, check fails, ban writes nothing.
using Giftwrap.Bans;
using Giftwrap.Bans.Redis;
using Giftwrap.Checks;
using Giftwrap.Configuration;
using Giftwrap.Gate.Config;
using Giftwrap.Rules;

namespace Giftwrap.Cli.Commands;

/// <summary>What serve runs with: the gate, and the ban store and fleet when [bans] asks for them.</summary>
internal sealed record ServeSettings(GateConfig Gate, BanOptions? Bans, FleetOptions? Fleet, ConfigFile File)
{
    /// <summary>The [kernel] section: bans and address rules in nftables.</summary>
    public KernelSettings? Kernel { get; init; }
    /// <summary>The CrowdSec bouncer, when [crowdsec] names a Local API.</summary>
    public Giftwrap.Bans.CrowdSec.CrowdSecOptions? CrowdSec { get; init; }
}

internal static class Settings
{
    public const string DefaultPath = "/etc/giftwrap/giftwrap.conf";

    /// <summary>Reads <paramref name="path"/> with the environment's overrides, then <paramref name="switches"/>.</summary>
    public static ConfigFile Read(string path, bool missingIsEmpty, IEnumerable<ConfigOverride>? switches = null) =>
        ConfigFile.Read(path, [.. ConfigOverride.FromEnvironment(), .. switches ?? []], missingIsEmpty);

    /// <summary>Everything serve needs, every error of the file and of each part in <see cref="ConfigFile.Errors"/>.</summary>
    public static ServeSettings ForServe(string path, IEnumerable<ConfigOverride> switches, string? inetd) =>
        // With --inetd, the configuration file is optional: the inetd.conf lines are the services.
        Validate(Read(path, missingIsEmpty: inetd is not null, switches), inetd, requireServices: true);

    /// <summary>
    /// The configuration as check, edit, ban and kernel take it: serve's reading and serve's rules,
    /// so that none of them accepts a file the gate would refuse, save one: a file with no
    /// [service:NAME] is valid here (a host with no gate still has [safety] keep, [bans], [kernel]).
    /// </summary>
    public static ServeSettings ForTools(string path, bool missingIsEmpty) =>
        Validate(Read(path, missingIsEmpty), inetd: null, requireServices: false);

    /// <summary>Every part serve runs with, read once; each part adds its errors to the file's list.</summary>
    private static ServeSettings Validate(ConfigFile file, string? inetd, bool requireServices)
    {
        var gate = GateConfigLoader.FromFile(file, inetd, requireServices);
        Keep(file);
        // Bans are part of the gate only when the configuration has a [bans] section.
        var bans = file.HasSection("bans") ? BanOptionsReader.FromFile(file) : null;
        var fleet = bans is null ? null : FleetOptionsReader.FromFile(file);
        // A trap bans through the store: without one it would only refuse, and say nothing of it.
        foreach (var trap in gate.Services.Where(s => s.Trap is not null && bans is null))
            file.Error($"service:{trap.Name}", "trap", $"[service:{trap.Name}] trap needs the ban store: add a [bans] section");
        // The kernel's protected addresses are the store's, [safety] keep included.
        var kernel = KernelSettings.FromFile(file, bans is null ? null : BanCommands.WithKeep(bans, file));
        var crowdsec = Giftwrap.Bans.CrowdSec.CrowdSecOptionsReader.FromFile(file);
        return new ServeSettings(gate, bans, fleet, file) { Kernel = kernel, CrowdSec = crowdsec };
    }

    /// <summary>
    /// A [bans] store that names a file: serve could not open it. Not an error of the file's syntax,
    /// so not in its list: ban says it with its own exit status, check and --check-config as an error.
    /// </summary>
    public static string? StoreKindError(ServeSettings settings) =>
        settings.Bans is { } b && StoreProblems.KindProblem(b.Store) is { } kind ? $"{settings.File.Where("bans", "store")}: {kind}" : null;

    /// <summary>The clients of [safety] keep; a malformed entry is an error of the file.</summary>
    public static List<KeepRule> Keep(ConfigFile file)
    {
        if (file.Entry("safety", "keep") is not { } keep)
            return [];
        var problems = new List<Diagnostic>();
        var rules = LockoutCheck.ParseKeep(keep.Value, keep.Source.ToString(), problems);
        foreach (var p in problems)
            file.Errors.Add($"{p.File}: {p.Message}");
        return rules;
    }

    /// <summary>A configuration error ("where: message") as a check diagnostic.</summary>
    public static Diagnostic AsDiagnostic(string error)
    {
        // The place ends at the first ": " (file:line:column, or "switch --x:y=v", "environment variable X").
        var cut = error.IndexOf(": ", StringComparison.Ordinal);
        return cut < 0
            ? new Diagnostic(error, 0, 0, DiagnosticSeverity.Error, "config", "configuration error")
            : new Diagnostic(error[..cut], 0, 0, DiagnosticSeverity.Error, "config", error[(cut + 2)..]);
    }
}
