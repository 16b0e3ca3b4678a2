// A real xinetd for the tcpd comparison: three services on loopback, one wrapped by libwrap's
// tcpd, one by `giftwrap tcpd`, one by the lean `giftwrap-tcpd` binary, in a private mount namespace where /etc/hosts.allow and
// /etc/hosts.deny are the test's files. Killed with everything it started on dispose.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

/// <summary>What a client saw: the bytes the service sent, and whether it ended with a reset.</summary>
public sealed record Reply(string Text, bool Reset);

public sealed class XinetdFixture : IDisposable
{
    private readonly Process _xinetd;
    private readonly StringBuilder _output = new();

    public XinetdFixture()
    {
        var unshare = Require("unshare", "util-linux");
        var xinetd = Require("xinetd", "xinetd");
        if (Environment.UserName != "root")
            throw new InvalidOperationException("the xinetd comparison needs root (mount namespace, bind mounts)");
        Dir = new TempDir();
        Allow = Dir.Write("hosts.allow", "");
        Deny = Dir.Write("hosts.deny", "");
        LibwrapPort = Loopback.FreePort();
        GiftwrapPort = Loopback.FreePort();
        LeanPort = Loopback.FreePort();
        var conf = Dir.Write("xinetd.conf", Config());
        var script = $"mount --bind {Allow} /etc/hosts.allow && mount --bind {Deny} /etc/hosts.deny && " +
                     $"exec {xinetd} -dontfork -f {conf} -pidfile {Dir.Path}/xinetd.pid";
        var psi = new ProcessStartInfo(unshare, ["--mount", "--fork", "--kill-child", "sh", "-c", script])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _xinetd = Process.Start(psi)!;
        _xinetd.OutputDataReceived += (_, e) => Collect(e.Data);
        _xinetd.ErrorDataReceived += (_, e) => Collect(e.Data);
        _xinetd.BeginOutputReadLine();
        _xinetd.BeginErrorReadLine();
        try
        {
            WaitUntilListening();
        }
        catch
        {
            // xunit does not dispose a fixture whose constructor threw: xinetd must not outlive the test.
            Dispose();
            throw;
        }
    }

    public TempDir Dir { get; }
    public string Allow { get; }
    public string Deny { get; }
    public int LibwrapPort { get; }
    /// <summary>The service wrapped by `giftwrap-tcpd` (src/Giftwrap.Tcpd).</summary>
    public int LeanPort { get; }
    public int GiftwrapPort { get; }

    /// <summary>Replaces both tables in place: the bind mounts follow the same files.</summary>
    public void SetTables(string allow, string deny)
    {
        File.WriteAllText(Allow, allow.Replace("DIR", Dir.Path, StringComparison.Ordinal));
        File.WriteAllText(Deny, deny.Replace("DIR", Dir.Path, StringComparison.Ordinal));
    }

    /// <summary>Connects from <paramref name="from"/>, sends nothing, reads until the service closes.</summary>
    public static async Task<Reply> AskAsync(int port, string from)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var text = new StringBuilder();
        var buf = new byte[4096];
        try
        {
            int n;
            while ((n = await s.ReceiveAsync(buf, SocketFlags.None, cts.Token)) > 0)
                text.Append(Encoding.Latin1.GetString(buf, 0, n));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
        {
            return new Reply(text.ToString(), Reset: true);
        }
        return new Reply(text.ToString(), Reset: false);
    }

    private string Config()
    {
        var dotnet = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "/usr/share/dotnet/dotnet";
        return "defaults\n{\n}\n" +
               Service("gw-libwrap", LibwrapPort, "/usr/sbin/tcpd", "/bin/echo served") +
               Service("gw-giftwrap", GiftwrapPort, dotnet, $"dotnet {CliRunner.Dll} tcpd /bin/echo served") +
               Service("gw-lean", LeanPort, dotnet, $"dotnet {Path.Combine(AppContext.BaseDirectory, "giftwrap-tcpd.dll")} /bin/echo served");
    }

    // NOLIBWRAP: xinetd's own libwrap check would judge by the first server_args word ("/bin/echo",
    // matching the "echo" rules) and run their options a second time; only the tcpds must decide.
    private static string Service(string name, int port, string server, string args) => $$"""
        service {{name}}
        {
            type = UNLISTED
            socket_type = stream
            protocol = tcp
            wait = no
            user = root
            bind = 127.0.0.1
            port = {{port}}
            cps = 10000 1
            instances = UNLIMITED
            flags = NAMEINARGS NOLIBWRAP
            server = {{server}}
            server_args = {{args}}
        }

        """;

    private void WaitUntilListening()
    {
        var wanted = new[] { LibwrapPort, GiftwrapPort, LeanPort }.Select(p => $"0100007F:{p:X4}").ToList();
        for (var i = 0; i < 600; i++)
        {
            if (_xinetd.HasExited)
                throw new InvalidOperationException($"xinetd exited ({_xinetd.ExitCode}) before listening:\n{Output}");
            var listening = File.ReadAllLines("/proc/net/tcp").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length > 3 && f[3] == "0A").Select(f => f[1]).ToHashSet();
            if (wanted.All(listening.Contains))
                return;
            Thread.Sleep(50);
        }
        throw new InvalidOperationException($"xinetd did not listen on {LibwrapPort}, {GiftwrapPort} and {LeanPort} within 30 s:\n{Output}");
    }

    private string Output
    {
        get
        {
            lock (_output)
                return _output.ToString();
        }
    }

    private void Collect(string? line)
    {
        if (line is null)
            return;
        lock (_output)
            _output.AppendLine(line);
    }

    private static string Require(string tool, string package)
    {
        foreach (var dir in new[] { "/usr/sbin", "/usr/bin", "/sbin", "/bin" })
        {
            var path = Path.Combine(dir, tool);
            if (File.Exists(path))
                return path;
        }
        throw new InvalidOperationException($"{tool} is not installed: the tcpd comparison needs it (apt-get install {package}; scripts/test.sh does)");
    }

    public void Dispose()
    {
        try
        {
            if (!_xinetd.HasExited)
            {
                _xinetd.Kill(entireProcessTree: true);
                _xinetd.WaitForExit(30_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It had already gone.
        }
        _xinetd.Dispose();
        Dir.Dispose();
    }
}
