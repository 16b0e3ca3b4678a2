// The [kernel] section read from the one configuration reader, for serve and for
// `giftwrap kernel`: nftables on or off, the guarded ports ([kernel] ports, then every
// [service:*] listen port under its daemon name) and the reconciliation period. Every
// error names its file:line and stops the command, as every other configuration error does.
using System.Globalization;
using Giftwrap.Bans;
using Giftwrap.Configuration;
using Giftwrap.Gate.Logging;
using Giftwrap.Logging;
using Giftwrap.Kernel;

namespace Giftwrap.Cli.Commands;

/// <summary>What the kernel side runs with: on or off, its options, and the tables its address rules come from.</summary>
internal sealed record KernelSettings(bool Enabled, KernelOptions Options, string Allow, string Deny)
{
    /// <summary>
    /// Reads [kernel] of <paramref name="file"/>; errors go to the file's list. The protected addresses
    /// are the store's (<paramref name="bans"/>, [safety] keep included) and the SSH client of this process.
    /// </summary>
    public static KernelSettings FromFile(ConfigFile file, BanOptions? bans)
    {
        const string S = "kernel";
        var ports = new List<KernelPort>();
        if (file.Get(S, "ports") is { } text)
        {
            foreach (var item in ConfigFile.Split(text))
            {
                if (ParsePort(item) is { } p)
                    ports.Add(p);
                else
                    file.Error(S, "ports", $"ports: \"{item}\" is not daemon:port or port (1..65535)");
            }
        }
        // The gate's own services, read the way GateConfigLoader reads them (its errors are its own to report).
        foreach (var name in file.Labels("service"))
        {
            var section = $"service:{name}";
            if (file.Get(section, "listen") is null)
                continue;
            foreach (var listen in file.Addresses(section, "listen"))
                ports.Add(new KernelPort(file.Get(section, "daemon") ?? name, listen.Port) { Service = true });
        }
        var protect = KernelOptions.ProtectedFor(bans ?? new BanOptions());
        var options = new KernelOptions { Ports = [.. ports.Distinct()], Reconcile = file.Duration(S, "reconcile"), Protect = protect };
        return new KernelSettings(file.YesNo(S, "nftables"), options, file.Text("tables", "allow")!, file.Text("tables", "deny")!);
    }

    private static KernelPort? ParsePort(string item)
    {
        var colon = item.LastIndexOf(':');
        var daemon = colon < 0 ? null : item[..colon];
        var number = colon < 0 ? item : item[(colon + 1)..];
        // A daemon name as a table's daemon list can hold it: "sshd:22:33" is a typo, not a daemon "sshd:22"
        // that no rule would ever name (its port would get no address rules).
        if (daemon is { Length: 0 } || daemon?.IndexOfAny([':', ',', ' ', '\t']) >= 0 || !int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            return null;
        return new KernelPort(daemon, port);
    }

    /// <summary>The address rules' compiler over the tables, when some port has a daemon name; null otherwise.</summary>
    public KernelRules? Rules(bool live) =>
        Options.Ports.Any(p => p.Daemon is not null) ? new KernelRules(Allow, Deny, Options.Ports, Options.Protect, live) : null;
}

/// <summary>The kernel side's lines into the gate's log (syslog), with their severities.</summary>
internal sealed class KernelGateLog(GateLog log) : IKernelLog
{
    public void Info(string message) => log.Gate(SyslogSeverity.Info, message);

    public void Warning(string message) => log.Gate(SyslogSeverity.Warning, $"warning: {message}");

    public void Error(string message) => log.Gate(SyslogSeverity.Err, $"error: {message}");
}

/// <summary>The kernel side's lines on standard error, for `giftwrap kernel`.</summary>
internal sealed class KernelConsoleLog : IKernelLog
{
    public void Info(string message) => Console.Error.WriteLine($"giftwrap: {message}");

    public void Warning(string message) => Console.Error.WriteLine($"giftwrap: warning: {message}");

    public void Error(string message) => Console.Error.WriteLine($"giftwrap: error: {message}");
}
