// What every measurement of this project shares: the deterministic ban addresses, the
// small pair of tables the gate decides against when a client is not banned, the
// requests, and the process's resident set read from /proc.
using System.Globalization;
using System.Net;
using System.Text;
using Giftwrap.Bans;
using Giftwrap.Decisions;

namespace Giftwrap.BansBenchmarks;

/// <summary>Addresses, tables and probes shared by the commands and the BenchmarkDotNet classes.</summary>
public static class Common
{
    /// <summary>The daemon every probe asks about.</summary>
    public const string Daemon = "sshd";

    /// <summary>A client on no ban list, granted by hosts.allow line 3 (sshd from 10/8): the common case at the gate.</summary>
    public const string UnlistedClient = "10.1.2.3";

    /// <summary>Small hosts.allow, as in bench/Giftwrap.Benchmarks' small scenario.</summary>
    public const string SmallAllow =
        "# bans-local benchmark: small hosts.allow\n" +
        "ALL: 127.0.0.1 [::1]\n" +
        "in.ftpd, vsftpd: .example.org EXCEPT evil.example.org\n" +
        "sshd, sftp-server: 10.0.0.0/255.0.0.0 EXCEPT 10.66.0.0/16 : severity auth.info\n" +
        "sshd: 192.168.1.0/24 172.16.\n" +
        "imapd pop3d: .mail.example.net, 192.0.2.0/255.255.255.0\n";

    /// <summary>Small hosts.deny.</summary>
    public const string SmallDeny =
        "# bans-local benchmark: small hosts.deny\n" +
        "sshd: 203.0.113.0/255.255.255.0\n" +
        "in.rshd in.rlogind: ALL\n" +
        "portmap: ALL EXCEPT 192.168.1.\n" +
        "ALL: ALL\n";

    /// <summary>
    /// The i-th banned address: 11.0.0.1, 11.0.1.1, ... (the third octet steps, then the
    /// second, then the first from 11 up): distinct for i below 16,777,216·(256-11)/256,
    /// never loopback, never 10/8 (so <see cref="UnlistedClient"/> is on no list).
    /// </summary>
    public static IPAddress Address(int i) =>
        new([(byte)(11 + (i >> 16)), (byte)(i >> 8), (byte)i, 1]);

    /// <summary>The target of the i-th banned address.</summary>
    public static BanTarget Target(int i) => BanTarget.FromAddress(Address(i));

    /// <summary>A ban request as `giftwrap ban ADDRESS --for 1d --reason ...` makes it.</summary>
    public static BanRequest Request(int i) => new()
    {
        Target = Target(i),
        Duration = TimeSpan.FromDays(1),
        Reason = "bench",
    };

    /// <summary>Writes the small tables into <paramref name="dir"/>; returns (allow, deny).</summary>
    public static (string Allow, string Deny) WriteTables(string dir)
    {
        Directory.CreateDirectory(dir);
        var allow = Path.Combine(dir, "hosts.allow");
        var deny = Path.Combine(dir, "hosts.deny");
        File.WriteAllText(allow, SmallAllow);
        File.WriteAllText(deny, SmallDeny);
        return (allow, deny);
    }

    /// <summary>The request the gate builds for a client (no lookups: name and user unknown).</summary>
    public static AccessRequest AccessFor(string client) => new()
    {
        Daemon = Daemon,
        ClientAddress = client,
        ClientName = AccessRequest.Unknown,
        ClientUser = AccessRequest.Unknown,
        ServerAddress = "127.0.0.1",
        ServerPort = 22,
    };

    /// <summary>Options of a store in <paramref name="dir"/>.</summary>
    public static BanOptions Options(string dir) => new() { Store = dir, Origin = "bench-host" };

    /// <summary>Writes "ALL: a.b.c.d" lines for addresses 0..count-1 (a Fail2ban-made hosts.deny).</summary>
    public static void WriteHostsDeny(string path, int count)
    {
        using var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16);
        for (var i = 0; i < count; i++)
            w.Write(string.Create(CultureInfo.InvariantCulture, $"ALL: {Address(i)}\n"));
    }

    /// <summary>A field of /proc/self/status in MB (VmRSS, VmHWM).</summary>
    public static double StatusMb(string field)
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var kb = long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                return kb / 1024.0;
            }
        }
        return double.NaN;
    }
}
