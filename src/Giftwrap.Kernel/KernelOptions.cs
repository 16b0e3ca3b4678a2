// The [kernel] section as an immutable value: whether the bans go to nftables, which TCP
// ports the kernel guards (per daemon, for the address rules), how often the table is
// compared with the store, and the addresses that must never reach the kernel's sets.
// Read from the configuration by the giftwrap command (KernelSettings), which names the
// file:line of every error; this assembly only takes the value.
using System.Net;
using Giftwrap.Bans;

namespace Giftwrap.Kernel;

/// <summary>One guarded TCP port, with the daemon name the tables use for it (null: bans only).</summary>
public sealed record KernelPort(string? Daemon, int Port)
{
    /// <summary>A [service:*] listen port: it gets address rules, but does not narrow the ports bans drop.</summary>
    public bool Service { get; init; }

    public override string ToString() => Daemon is null ? Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Daemon}:{Port}";
}

/// <summary>Settings of the kernel side.</summary>
public sealed record KernelOptions
{
    /// <summary>
    /// The guarded ports: [kernel] ports, then the services' listen ports. Bans drop the [kernel]
    /// ports (every TCP port when there is none); every port with a daemon name gets address rules.
    /// </summary>
    public IReadOnlyList<KernelPort> Ports { get; init; } = [];

    /// <summary>How often the kernel's table is compared with the store in full (besides after start and after foreign changes).</summary>
    public TimeSpan Reconcile { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>Addresses and prefixes that never reach the kernel (loopback, [bans] protect, [safety] keep, the SSH client).</summary>
    public IReadOnlyList<BanTarget> Protect { get; init; } = [];

    /// <summary>
    /// The command that runs nft, as argv (default: nft on PATH). Tests put `nsenter -t PID -n` in
    /// front of it to reach the network namespace they made; it is still the real nft.
    /// </summary>
    public IReadOnlyList<string> Nft { get; init; } = ["nft"];

    /// <summary>The table Giftwrap owns; it never touches another.</summary>
    public const string Table = "giftwrap";

    /// <summary>
    /// The addresses a ban must never put in the kernel, whatever the store holds: the store's own
    /// protected list (loopback unless protect_loopback = no, [bans] protect, [safety] keep), and the
    /// SSH client of this session, from SSH_CONNECTION or SSH_CLIENT (an operator running `kernel sync`
    /// over SSH must not cut the session that would undo a mistake).
    /// </summary>
    public static IReadOnlyList<BanTarget> ProtectedFor(BanOptions bans, Func<string, string?>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(bans);
        environment ??= Environment.GetEnvironmentVariable;
        var list = new List<BanTarget>(bans.ProtectLoopback ? BanOptions.AlwaysProtected : []);
        list.AddRange(bans.Protect);
        if (SshClient(environment) is { } ssh)
            list.Add(BanTarget.FromAddress(ssh));
        return list;
    }

    /// <summary>The client address of the SSH session this process runs in, if any (the first word of SSH_CONNECTION or SSH_CLIENT).</summary>
    public static IPAddress? SshClient(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        foreach (var name in new[] { "SSH_CONNECTION", "SSH_CLIENT" })
        {
            var first = environment(name)?.Split(' ', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
            if (first is not null && IPAddress.TryParse(first, out var a))
                return a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a;
        }
        return null;
    }
}
