// `giftwrap serve --inetd FILE`: an existing inetd.conf served as it is. Each
// `service stream tcp[4|6] nowait[.max] user[.group] server args...` line becomes a
// service that execs the server with the connection on its stdio; lines that run
// tcpd are unwrapped (the rules are Giftwrap's own now). Each `service dgram
// udp[4|6|46] wait[.max] ...` line becomes a UDP service served as inetd does: one
// program per burst of datagrams, with the socket on its stdio. Service names are
// looked up in /etc/services for the line's protocol. Other socket types, `stream
// wait` and `dgram nowait` services are reported and skipped.
using System.Net;

namespace Giftwrap.Gate.Config;

public static class InetdConf
{
    public static IReadOnlyList<ServiceConfig> Read(string path, List<string> errors, List<string> skipped, string servicesFile = "/etc/services")
    {
        var result = new List<ServiceConfig>();
        // Read as the tables are: a FIFO is never waited on, a device never read without end, the size is bounded.
        if (Directory.Exists(path))
        {
            errors.Add($"{path}: cannot read: is a directory");
            return result;
        }
        if (Giftwrap.Tables.TableFile.TryRead(path, out var data, out var error, table: true, maxBytes: Giftwrap.Checks.InetdConf.MaxBytes) is not Giftwrap.Tables.ReadOutcome.Read)
        {
            errors.Add($"{path}: cannot read: {error?.Replace($"cannot open {path}: ", "", StringComparison.Ordinal) ?? "No such file or directory"}");
            return result;
        }
        var lines = System.Text.Encoding.UTF8.GetString(data).TrimStart('\uFEFF').ReplaceLineEndings("\n").Split('\n');
        var ports = ServicePorts(servicesFile, "tcp");
        var udpPorts = ServicePorts(servicesFile, "udp");
        for (var i = 0; i < lines.Length; i++)
        {
            var where = $"{path}:{i + 1}";
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 6)
            {
                errors.Add($"{where}: expected service socket_type protocol wait user server [args]");
                continue;
            }
            var (service, socketType, protocol, wait, user) = (f[0], f[1], f[2], f[3], f[4]);
            var stream = socketType == "stream" && protocol.StartsWith("tcp", StringComparison.Ordinal) && wait.StartsWith("nowait", StringComparison.Ordinal);
            var datagram = socketType == "dgram" && protocol.StartsWith("udp", StringComparison.Ordinal) && wait.StartsWith("wait", StringComparison.Ordinal);
            if (!stream && !datagram)
            {
                skipped.Add($"{where}: skipped: only stream/tcp nowait and dgram/udp wait services are served (this is {socketType}/{protocol} {wait})");
                continue;
            }
            if (IsNumber(service) && !TryPort(service, out _))
            {
                errors.Add($"{where}: port {service} is out of range (1-65535)");
                continue;
            }
            if (!TryPort(service, out var port) && !(datagram ? udpPorts : ports).TryGetValue(service, out port))
            {
                errors.Add($"{where}: unknown service \"{service}\" (not in {servicesFile})");
                continue;
            }
            var server = f[5];
            var args = f.Length > 6 ? f[6..] : [Path.GetFileName(server)];
            if (server == "internal")
            {
                skipped.Add($"{where}: skipped: inetd internal service {service}");
                continue;
            }
            // tcpd wraps the real daemon: argv[0] is its name (or path), which we run directly.
            // giftwrap-tcpd in tcpd's place reads the line the same way.
            if (Path.GetFileName(server) == "tcpd" || (Path.GetFileName(server) == "giftwrap-tcpd" && args[0] != "giftwrap-tcpd"))
            {
                server = args[0].Contains('/', StringComparison.Ordinal) ? args[0] : Path.Combine("/usr/sbin", args[0]);
            }
            var listen = protocol[3..] switch
            {
                "6" => new List<IPEndPoint> { new(IPAddress.IPv6Any, port) },
                "46" => [new(IPAddress.Any, port), new(IPAddress.IPv6Any, port)],
                _ => [new(IPAddress.Any, port)],
            };
            var userName = user.Split('.', ':')[0];
            result.Add(new ServiceConfig
            {
                Name = $"{service}/{protocol}",
                Listen = datagram ? [] : listen,
                ListenUdp = datagram ? listen : [],
                Daemon = Path.GetFileName(args[0]),
                Exec = [server, .. args[1..]],
                User = userName == "root" ? null : userName,
            });
        }
        return result;
    }

    private static bool IsNumber(string text) => text.Length > 0 && text.AsSpan().IndexOfAnyExceptInRange('0', '9') < 0;

    // A port: digits only (no sign, no blanks) and 1-65535; a larger number would make IPEndPoint throw.
    private static bool TryPort(string text, out int port) =>
        int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port)
        && port is > 0 and <= IPEndPoint.MaxPort;

    private static Dictionary<string, int> ServicePorts(string file, string protocol)
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        if (!File.Exists(file))
            return map;
        foreach (var raw in File.ReadLines(file))
        {
            var line = raw.Split('#')[0];
            var f = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 2 || !f[1].EndsWith($"/{protocol}", StringComparison.Ordinal))
                continue;
            // A port out of range names no service (getservbyname would not return it either).
            if (!TryPort(f[1][..^4], out var port))
                continue;
            foreach (var name in f.Where((_, j) => j == 0 || j >= 2))
                map.TryAdd(name, port);
        }
        return map;
    }
}
