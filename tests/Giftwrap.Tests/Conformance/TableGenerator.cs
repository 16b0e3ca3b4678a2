// Random tables and requests for the differential test: every pattern form, option,
// list separator and line form of hosts_access(5)/hosts_options(5), drawn from small
// pools so that matches are frequent. Deterministic for a given seed.
using System.Text;

namespace Giftwrap.Tests.Conformance;

public sealed class TableGenerator(int seed, string directory)
{
    private readonly Random _rng = new(seed);

    private static readonly string[] Daemons = ["sshd", "in.ftpd", "telnetd", "SSHD", "in.fingerd", "smtp"];
    private static readonly string[] Names =
    [
        "a.example.com", "B.Example.COM", "localhost", "host", "x.y.example.org", "unknown", "paranoid", "mail.example.net", "h1",
        // Names as sock_hostname() may leave them (issue 10): a trailing dot, bytes outside ASCII, over 127 bytes.
        "dot.example.com.", "h\u00c3\u00b4te.example.com", new string('n', 130) + ".example.com",
    ];
    private static readonly string[] Addresses = ["10.0.0.1", "10.0.1.5", "192.168.1.20", "127.0.0.1", "1.2.3.4", "::1", "2001:db8::5", "::ffff:10.0.0.1", "fe80::1", "10.0.0.255", "172.16.5.4"];
    private static readonly string[] Users = ["root", "bob", "unknown", "BOB", "alice"];
    private static readonly string[] ServerAddresses = ["127.0.0.1", "10.0.0.254", "::1", "192.168.1.1"];
    private static readonly string[] ServerNames = ["server.example.com", "localhost", "unknown", "srv"];
    private static readonly int[] Ports = [22, 21, 23, 0, 79, 25, 8080];

    private static readonly string[] HostTokens =
    [
        "ALL", "all", "LOCAL", "KNOWN", "UNKNOWN", "PARANOID", "known",
        ".example.com", ".EXAMPLE.com", ".example", "example.com", ".com", ".org",
        "a.example.com", "A.EXAMPLE.COM", "localhost", "host", "h1", "mail.example.net",
        "10.", "10.0.", "10.0.0.", "192.168.1.", "127.", "1.2.3.", "10.0.0.1.", "10",
        "10.0.0.1", "10.0.1.5", "192.168.1.20", "127.0.0.1", "1.2.3.4", "010.0.0.1", "10.0.0.01", ".1", ".5", "0.1",
        "10.0.0.0/255.255.255.0", "10.0.0.0/255.0.0.0", "10.0.0.0/8", "10.0.0.0/24", "10.0.0.1/32", "10.0.0.0/16",
        "0.0.0.0/0", "0.0.0.0/0.0.0.0", "10.0.0.0/33", "10.0.0.5/255.0.0.0", "10.0.0.5/8", "1.2.3.4/255.255.255.255",
        "10.0.0.0/255.255.0.255", "10.0.0.0/x", "10.0.0/8", "10.0.0.0/", "192.168.0.0/255.255.0.0", "172.16.0.0/12",
        "[::1]", "[2001:db8::]/32", "[2001:db8::5]", "[::ffff:10.0.0.1]", "[fe80::]/10", "[::]/0", "[2001:db8::]/129",
        "[::1]/128", "[::ffff:10.0.0.0]/104", "[bogus]", "::1", "2001:db8::5",
        "*.example.com", "?.example.com", "10.0.*", "a.*.com", "*", "*.EXAMPLE.com", "1?.0.0.1", "*.com*", "**", "*1",
        "@nosuchgroup", "/nonexistent/file",
        ".com.", ".example.com.", "dot.example.com.", "h\u00c3\u00b4te.example.com", "h?\u00b4te.*", "*.com.", new string('n', 127),
    ];

    private static readonly string[] DaemonTokens =
    [
        "ALL", "sshd", "SSHD", "in.ftpd", "telnetd", "in.fingerd", "smtp", "ssh*", "in.*", "?shd", "KNOWN", "22", "21", "*",
        "sshd@127.0.0.1", "sshd@localhost", "ALL@10.0.0.254", "in.ftpd@server.example.com", "ALL@.example.com", "sshd@[::1]",
        "ALL@192.168.1.", "sshd@KNOWN", "ALL@UNKNOWN", "sshd@10.0.0.0/8",
    ];

    private static readonly string[] UserTokens = ["root", "bob", "BOB", "KNOWN", "UNKNOWN", "ALL", "b*", "?ob"];

    private static readonly string[] OptionTexts =
    [
        "allow", "deny", "ALLOW", "DENY", "spawn /bin/true", "spawn /bin/echo %a %h %d %u %c %s %n %p", "setenv GW_A %a",
        "setenv GW_B x_%h_%u", "setenv", "umask 022", "umask 999", "umask 0777", "umask=027", "nice 5", "nice", "nice x",
        "severity auth.info", "severity notice", "severity bogus", "severity local0.debug", "severity mail.bogus",
        "linger 5", "linger -1", "keepalive", "keepalive 3", "banners /nonexistent", "twist /bin/true", "twist = /bin/true",
        "aclexec /bin/true", "aclexec /bin/false", "user nobody", "user nosuchuser", "user nobody.nogroup",
        "user nobody.nosuchgroup", "group nogroup", "group nosuchgroup", "rfc931", "rfc931 5", "rfc931 0", "bogus",
        "spawn /bin/echo a\\:b", "", "allow extra", "deny extra", "Spawn /bin/true", "setenv GW_C", "setenv =x y",
        // Numbers at glibc's edges (sscanf converts through the 64-bit strtol/strtoul and keeps 32 bits).
        "linger 2147483648", "linger -4294967295", "linger 4294967296", "linger 99999999999999999999", "linger +7",
        "rfc931 4294967296", "rfc931 4294967297", "rfc931 -4294967295", "rfc931 2147483648",
        "umask 40000000022", "umask 037777777777", "umask -0", "umask 1777777777777777777777", "umask 2000000000000000000000",
        "nice 4294967297", "nice -9223372036854775809", "nice 0x5",
        "severity authpriv.info", "severity ftp.notice", "severity AUTH.Info", "severity warn", "severity syslog.err",
    ];

    public string Directory => directory;

    public int PatternFiles { get; private set; }

    T Pick<T>(T[] pool) => pool[_rng.Next(pool.Length)];

    bool Chance(double p) => _rng.NextDouble() < p;

    string Separator() => Pick([" ", ",", ", ", "\t", " , ", "  "]);

    string List(Func<string> token)
    {
        var sb = new StringBuilder();
        var n = 1 + _rng.Next(3);
        for (var i = 0; i < n; i++)
        {
            if (i > 0)
                sb.Append(Separator());
            sb.Append(token());
        }
        if (Chance(0.25))
        {
            sb.Append(Pick([" EXCEPT ", " except ", " EXCEPT\t"]));
            sb.Append(token());
            if (Chance(0.3))
                sb.Append(" EXCEPT ").Append(token());
        }
        return sb.ToString();
    }

    string ClientToken()
    {
        if (Chance(0.05))
            return PatternFile();
        var host = Pick(HostTokens);
        return Chance(0.12) ? $"{Pick(UserTokens)}@{host}" : host;
    }

    string PatternFile()
    {
        var path = System.IO.Path.Combine(directory, $"patterns{PatternFiles++}");
        var sb = new StringBuilder();
        var n = _rng.Next(4);
        for (var i = 0; i < n; i++)
            sb.Append(Pick(HostTokens.Where(t => !t.StartsWith('/')).ToArray())).Append(Chance(0.5) ? "\n" : " ");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    string Options()
    {
        var n = 1 + _rng.Next(3);
        var parts = new List<string>();
        for (var i = 0; i < n; i++)
            parts.Add(Pick(OptionTexts));
        var sep = Pick([" : ", ":", ": ", " :"]);
        return string.Join(sep, parts);
    }

    public string Rule()
    {
        var daemons = List(() => Pick(DaemonTokens));
        var clients = List(ClientToken);
        var rule = $"{daemons}{Pick([":", " : ", ": ", " :"])}{clients}";
        if (Chance(0.35))
            rule += Pick([":", " : "]) + Options();
        return rule;
    }

    /// <summary>A rule padded to about the 2,047-byte logical line limit (either side of it).</summary>
    string LongRule()
    {
        var rule = Rule();
        var target = 2030 + _rng.Next(40);
        var pad = new StringBuilder(rule.Length + target);
        var colon = rule.IndexOf(':', StringComparison.Ordinal);
        pad.Append(rule[..(colon + 1)]);
        while (pad.Length + rule.Length - colon < target)
            pad.Append(Pick([" ", "\t", " x.invalid", ","]));
        pad.Append(rule[(colon + 1)..]);
        return pad.ToString();
    }

    string Garbage()
    {
        var n = 1 + _rng.Next(60);
        var sb = new StringBuilder(n);
        for (var i = 0; i < n; i++)
        {
            var c = (char)_rng.Next(256);
            sb.Append(c == '\n' ? ' ' : c);
        }
        return sb.ToString();
    }

    public string Line()
    {
        var r = _rng.NextDouble();
        if (r < 0.01)
            return LongRule();
        if (r < 0.02)
            return Garbage();
        if (r < 0.025)
        {
            var rule = Rule();
            var at = _rng.Next(rule.Length);
            return rule[..at] + "\0" + rule[at..];
        }
        if (r < 0.05)
            return "# comment " + Rule();
        if (r < 0.08)
            return Pick(["", "   ", "\t"]);
        if (r < 0.11)
            return Pick(["sshd ALL", "garbage", "ALL"]);
        if (r < 0.14)
        {
            var rule = Rule();
            var cut = rule.IndexOf(' ', StringComparison.Ordinal);
            return cut > 0 ? rule[..cut] + " \\\n" + rule[(cut + 1)..] : rule;
        }
        if (r < 0.16)
            return "  " + Rule();
        if (r < 0.18)
            return Rule() + " # trailing comment";
        return Rule();
    }

    public string Table()
    {
        var sb = new StringBuilder();
        var n = _rng.Next(7);
        var crlf = Chance(0.05);
        for (var i = 0; i < n; i++)
            sb.Append(Line()).Append(crlf ? "\r\n" : "\n");
        var text = sb.ToString();
        if (text.Length > 0 && Chance(0.05))
            text = text[..^1];
        else if (Chance(0.01))
            text += "sshd: ALL \\";
        return text;
    }

    public string Request()
    {
        var name = Pick(Names);
        var addr = Pick(Addresses);
        return string.Join('\t',
            Pick(Daemons),
            Chance(0.1) ? "-" : name,
            Chance(0.05) ? "-" : addr,
            Chance(0.3) ? "-" : Pick(Users),
            Chance(0.3) ? "-" : Pick(ServerNames),
            Chance(0.3) ? "-" : Pick(ServerAddresses),
            Pick(Ports).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
