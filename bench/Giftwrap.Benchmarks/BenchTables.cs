// The benchmark tables, written byte for byte the same for Giftwrap and for the
// libwrap peer (bench/libwrap), so both sides decide against identical files.
// Everything here is deterministic: same files on every run and every machine.
using System.Globalization;
using System.Text;

namespace Giftwrap.Benchmarks;

/// <summary>Writes the benchmark tables and names the clients each scenario decides.</summary>
public static class BenchTables
{
    /// <summary>Number of <c>ALL: a.b.c.d</c> lines in the fail2ban-style hosts.deny.</summary>
    public const int Fail2banLines = 100_000;

    /// <summary>Small table: a client that hosts.allow line 4 grants (sshd from 10.0.0.0/8, not 10.66/16).</summary>
    public const string SmallAllowedClient = "10.1.2.3";

    /// <summary>Small table: a client no allow rule matches; refused by the last hosts.deny rule (ALL: ALL).</summary>
    public const string SmallRefusedClient = "198.51.100.7";

    /// <summary>Fail2ban table: an address that is on no line (10/8 is never generated): a full scan for libwrap.</summary>
    public const string Fail2banUnlistedClient = "10.9.8.7";

    /// <summary>The daemon every scenario asks about.</summary>
    public const string Daemon = "sshd";

    // A realistic small pair: 6 rules in hosts.allow, 4 in hosts.deny. Daemon lists, .domain,
    // net/mask and net/len, EXCEPT in both lists, [IPv6], options (spawn on a rule that the
    // benchmarked clients never reach, so libwrap never forks during the measurement).
    private const string SmallAllow =
        "# Giftwrap benchmark: small hosts.allow (6 rules)\n" +
        "ALL: 127.0.0.1 [::1]\n" +
        "in.ftpd, vsftpd: .example.org EXCEPT evil.example.org\n" +
        "sshd, sftp-server: 10.0.0.0/255.0.0.0 EXCEPT 10.66.0.0/16 : severity auth.info\n" +
        "sshd: 192.168.1.0/24 172.16.\n" +
        "imapd pop3d: .mail.example.net, 192.0.2.0/255.255.255.0\n" +
        "in.telnetd: .trusted.example : spawn (/bin/echo %a %d >> /dev/null) &\n";

    private const string SmallDeny =
        "# Giftwrap benchmark: small hosts.deny (4 rules)\n" +
        "sshd: 203.0.113.0/255.255.255.0\n" +
        "in.rshd in.rlogind: ALL\n" +
        "portmap: ALL EXCEPT 192.168.1.\n" +
        "ALL: ALL\n";

    private const string Fail2banAllow =
        "# Giftwrap benchmark: hosts.allow beside the fail2ban table (3 rules, none match the probes)\n" +
        "sshd: 192.168.0.0/255.255.0.0\n" +
        "in.ftpd: .example.org\n" +
        "ALL: 127.0.0.1\n";

    /// <summary>Paths of one scenario's pair of tables.</summary>
    public sealed record Pair(string Allow, string Deny);

    /// <summary>The small pair under <paramref name="root"/>.</summary>
    public static Pair Small(string root) =>
        new(Path.Combine(root, "small", "hosts.allow"), Path.Combine(root, "small", "hosts.deny"));

    /// <summary>The fail2ban pair under <paramref name="root"/>.</summary>
    public static Pair Fail2ban(string root) =>
        new(Path.Combine(root, "fail2ban", "hosts.allow"), Path.Combine(root, "fail2ban", "hosts.deny"));

    /// <summary>The address on the last line of the fail2ban hosts.deny.</summary>
    public static string Fail2banLastClient => Addresses().Last();

    /// <summary>Writes every table under <paramref name="root"/> plus <c>probes.env</c> (the clients, for shell scripts).</summary>
    public static void WriteAll(string root)
    {
        var small = Small(root);
        Write(small.Allow, SmallAllow);
        Write(small.Deny, SmallDeny);
        var f2b = Fail2ban(root);
        Write(f2b.Allow, Fail2banAllow);
        var deny = new StringBuilder(Fail2banLines * 20);
        deny.Append("# Giftwrap benchmark: fail2ban-style hosts.deny, ")
            .Append(Fail2banLines.ToString(CultureInfo.InvariantCulture)).Append(" banned addresses\n");
        foreach (var address in Addresses())
            deny.Append("ALL: ").Append(address).Append('\n');
        Write(f2b.Deny, deny.ToString());
        Write(Path.Combine(root, "probes.env"),
            $"DAEMON={Daemon}\n" +
            $"SMALL_ALLOWED={SmallAllowedClient}\n" +
            $"SMALL_REFUSED={SmallRefusedClient}\n" +
            $"F2B_UNLISTED={Fail2banUnlistedClient}\n" +
            $"F2B_LAST={Fail2banLastClient}\n");
    }

    /// <summary>A fresh temporary directory holding every table.</summary>
    public static string WriteToTemp()
    {
        var root = Path.Combine(Path.GetTempPath(), "giftwrap-bench-" + Guid.NewGuid().ToString("N"));
        WriteAll(root);
        return root;
    }

    /// <summary>Removes a directory made by <see cref="WriteToTemp"/>.</summary>
    public static void Remove(string? root)
    {
        if (root is not null && Directory.Exists(root))
            Directory.Delete(root, recursive: true);
    }

    /// <summary>
    /// The banned addresses, in file order: k = 0, 1, 2, ... is mapped through a bijection of
    /// 32-bit integers (an odd multiplier plus a constant), so the addresses are distinct and
    /// scattered; values whose first octet is 0, 10, 127 or 224 and above are skipped, so
    /// 10.x.x.x is never banned.
    /// </summary>
    public static IEnumerable<string> Addresses()
    {
        var count = 0;
        for (uint k = 0; count < Fail2banLines; k++)
        {
            var v = unchecked((k * 2654435761u) + 0x9E3779B9u);
            var first = v >> 24;
            if (first is 0 or 10 or 127 or >= 224)
                continue;
            count++;
            yield return string.Create(CultureInfo.InvariantCulture, $"{first}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}");
        }
    }

    private static void Write(string path, string text)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes(text));
    }
}
