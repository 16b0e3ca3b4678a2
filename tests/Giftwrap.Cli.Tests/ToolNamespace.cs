// A private world for running tcpdmatch/tcpdchk and `giftwrap match/check` side by side:
// each run is a new mount and network namespace (unshare -m -n) where /etc/hosts,
// /etc/hosts.allow, /etc/hosts.deny, /etc/resolv.conf and /etc/nsswitch.conf are the
// test's files, /dev is a small tmpfs, and /dev/log is this process's Unix datagram
// socket, so the syslog lines Debian's libwrap sends there are collected. The
// machine's own /etc is never touched: the bind mounts die with the namespace.
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

/// <summary>What one tool run gave: exit status, output, and the syslog messages it sent.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr, IReadOnlyList<string> Syslog);

public sealed class ToolNamespace : IDisposable
{
    // Runs as: sh -c SCRIPT DIR COMMAND... ($0 is DIR, "$@" the command).
    private const string Script = """
        set -e
        D=$0
        mount --make-rprivate /
        if command -v ip >/dev/null; then ip link set lo up; fi
        mount --bind "$D/hosts" /etc/hosts
        mount --bind "$D/hosts.allow" /etc/hosts.allow
        mount --bind "$D/hosts.deny" /etc/hosts.deny
        if [ -e /etc/resolv.conf ]; then mount --bind "$D/resolv.conf" /etc/resolv.conf; fi
        if [ -e /etc/nsswitch.conf ]; then mount --bind "$D/nsswitch.conf" /etc/nsswitch.conf; fi
        mkdir -p "$D/realdev"
        mount --rbind /dev "$D/realdev"
        mount -t tmpfs tmpfs /dev
        for n in null zero full random urandom tty; do touch /dev/$n; mount --bind "$D/realdev/$n" /dev/$n; done
        ln -s /proc/self/fd /dev/fd
        mkdir /dev/shm /dev/pts
        touch /dev/log
        mount --bind "$D/log" /dev/log
        umount -l "$D/realdev"
        set +e
        exec "$@"
        """;

    private readonly string _unshare;

    public ToolNamespace(string hosts)
    {
        if (Environment.UserName != "root")
            throw new InvalidOperationException("the tool comparison needs root (mount and network namespaces, bind mounts)");
        _unshare = new[] { "/usr/bin/unshare", "/bin/unshare" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("unshare (util-linux) is not installed");
        Dir = new TempDir();
        File.Copy(hosts, Path.Combine(Dir.Path, "hosts"));
        // Nothing answers DNS inside the new network namespace: a name not in /etc/hosts fails at once.
        Dir.Write("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
        Dir.Write("nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\nnetgroup: files\n");
    }

    public TempDir Dir { get; }

    /// <summary>Runs <paramref name="command"/> with the given tables ("DIR" in them stands for <see cref="Dir"/>).</summary>
    public ToolRun Run(string allow, string deny, params string[] command)
    {
        File.WriteAllText(Path.Combine(Dir.Path, "hosts.allow"), allow.Replace("DIR", Dir.Path, StringComparison.Ordinal));
        File.WriteAllText(Path.Combine(Dir.Path, "hosts.deny"), deny.Replace("DIR", Dir.Path, StringComparison.Ordinal));
        var logPath = Path.Combine(Dir.Path, "log");
        File.Delete(logPath);
        using var log = SyslogListener.Bind(logPath);
        var psi = new ProcessStartInfo(_unshare, ["--mount", "--net", "--fork", "--kill-child", "sh", "-c", Script, Dir.Path, .. command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.Latin1,
            StandardErrorEncoding = Encoding.Latin1,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{string.Join(' ', command)} did not finish in 120 s");
        }
        p.WaitForExit();
        return new ToolRun(p.ExitCode, stdout.Result, stderr.Result, Drain(log));
    }

    /// <summary>The datagrams already queued: the tool has exited, so every one it sent is there.</summary>
    private static List<string> Drain(Socket log)
    {
        var lines = new List<string>();
        var buf = new byte[65536];
        log.Blocking = false;
        while (log.Available > 0)
        {
            var n = log.Receive(buf);
            lines.Add(Encoding.Latin1.GetString(buf, 0, n));
        }
        return lines;
    }

    public void Dispose() => Dir.Dispose();
}
