// Where serve's decision lines go, as giftwrap.conf(5) [log] says: every line to the console
// (stderr, systemd's <level> form, which the journal reads; console = auto, and stderr is not the
// journal here), and to the syslog socket unless syslog = off. So off is not what puts a line per
// connection on the console; it only leaves the console as the one place the lines go.
// ServeLogConsoleTests has the console key's other cases.
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class ServeLogTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Serve_EveryDecision_OnTheConsole_AndOnSyslogUnlessOff(bool syslogOn)
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "cat: 127.0.0.72\n");
        var socketPath = Path.Combine(dir.Path, "log");
        using var log = SyslogListener.Bind(socketPath);
        var port = Loopback.FreePort();
        var conf = dir.Write("giftwrap.conf",
            $"[tables]\nallow = {dir.Path}/hosts.allow\ndeny = {dir.Path}/hosts.deny\n[log]\nsyslog = {(syslogOn ? socketPath : "off")}\n" +
            $"[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n");
        using var gate = new ServeProcess(conf, drainSeconds: 1);
        await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(60));
        Assert.Equal("hi\n", await GateBanTests.TalkAsync(port, "127.0.0.71"));
        Assert.Equal("", await GateBanTests.TalkAsync(port, "127.0.0.72"));

        await gate.WaitForAsync("cat: refused connect from 127.0.0.72 (127.0.0.72)", TimeSpan.FromSeconds(10));
        var console = gate.Stderr.Split('\n');
        Assert.Contains(console, l => l.StartsWith('<') && l.EndsWith(">cat: connect from 127.0.0.71 (127.0.0.71)", StringComparison.Ordinal));
        Assert.Contains(console, l => l.StartsWith('<') && l.EndsWith(">cat: refused connect from 127.0.0.72 (127.0.0.72)", StringComparison.Ordinal));

        // With off no socket is named: the console is all there is (checked above).
        if (!syslogOn)
            return;
        var datagrams = await ReceiveAsync(log, TimeSpan.FromSeconds(10), wanted: 2);
        Assert.Contains(datagrams, d => d.Contains("cat[", StringComparison.Ordinal) && d.EndsWith(": connect from 127.0.0.71 (127.0.0.71)", StringComparison.Ordinal));
        Assert.Contains(datagrams, d => d.EndsWith(": refused connect from 127.0.0.72 (127.0.0.72)", StringComparison.Ordinal));
    }

    /// <summary>The datagrams that arrive until <paramref name="wanted"/> decision lines came or the time is up.</summary>
    internal static async Task<List<string>> ReceiveAsync(Socket log, TimeSpan within, int wanted)
    {
        var datagrams = new List<string>();
        var buf = new byte[8192];
        using var cts = new CancellationTokenSource(within);
        try
        {
            while (datagrams.Count(d => d.Contains("connect from", StringComparison.Ordinal)) < wanted)
            {
                var n = await log.ReceiveAsync(buf, SocketFlags.None, cts.Token);
                datagrams.Add(Encoding.UTF8.GetString(buf, 0, n).TrimEnd('\n'));
            }
        }
        catch (OperationCanceledException)
        {
            // The time is up: what came is what the assertions see.
        }
        return datagrams;
    }
}
