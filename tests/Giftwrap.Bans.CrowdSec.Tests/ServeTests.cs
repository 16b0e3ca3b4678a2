// The real `giftwrap serve` with [crowdsec]: a decision made with cscli against a real Local
// API shuts a loopback client out of a guarded service, another client is served, and
// deleting the decision lets the first one back in, with no restart of the gate; a SIGHUP that
// changes [crowdsec] restarts the bouncer with the new settings.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Giftwrap.Bans.CrowdSec.Tests;

public sealed partial class ServeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-crowdsec-serve-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Serve_RefusesAClientCrowdSecBans_UntilTheDecisionIsDeleted()
    {
        using var lapi = new CrowdSecLapi();
        var key = lapi.AddBouncer("serve");
        lapi.Cscli("decisions", "add", "-i", "127.0.0.5", "-d", "1h", "-R", "test/banned-client");
        lapi.Cscli("decisions", "add", "-r", "127.0.1.0/24", "-d", "1h");
        File.WriteAllText(Path.Combine(_dir, "hosts.allow"), "ALL: ALL\n");
        File.WriteAllText(Path.Combine(_dir, "hosts.deny"), "");
        var port = CrowdSecLapi.FreePort();
        var conf = Path.Combine(_dir, "giftwrap.conf");
        File.WriteAllText(conf, GateConfig(port, lapi.Url, key));
        var lines = new List<string>();
        using var gate = StartGate(conf, lines);
        bool Logged(string text)
        {
            lock (lines)
                return lines.Any(l => l.Contains(text, StringComparison.Ordinal));
        }
        try
        {
            await Until(() => Logged("listening on") && Logged("crowdsec: 2 decision(s) in force"), () => string.Join('\n', lines));
            Assert.Equal("", await TalkAsync(port, "127.0.0.5"));
            Assert.Equal("", await TalkAsync(port, "127.0.1.77"));
            Assert.Equal("hi\n", await TalkAsync(port, "127.0.0.6"));

            lapi.Cscli("decisions", "delete", "-i", "127.0.0.5");
            await Until(() => Logged("crowdsec: 0 ban(s) added, 1 lifted"), () => string.Join('\n', lines));
            Assert.Equal("hi\n", await TalkAsync(port, "127.0.0.5"));
            Assert.Equal("", await TalkAsync(port, "127.0.1.77"));
        }
        finally
        {
            kill(gate.Id, 15);
            if (!gate.WaitForExit(30_000))
                gate.Kill();
            gate.WaitForExit();
        }
        lock (lines)
            Assert.DoesNotContain(lines, l => l.Contains("   at ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_ReloadChangesCrowdSecSection_BouncerFollowsTheNewOrigins()
    {
        using var lapi = new CrowdSecLapi();
        var key = lapi.AddBouncer("reload");
        lapi.Cscli("decisions", "add", "-i", "127.0.0.5", "-d", "1h");
        File.WriteAllText(Path.Combine(_dir, "hosts.allow"), "ALL: ALL\n");
        File.WriteAllText(Path.Combine(_dir, "hosts.deny"), "");
        var port = CrowdSecLapi.FreePort();
        var conf = Path.Combine(_dir, "giftwrap.conf");
        void Write(string origins) => File.WriteAllText(conf, GateConfig(port, lapi.Url, key, $"origins = {origins}\n"));
        // cscli's decision is of origin "cscli": a bouncer that follows "crowdsec" only leaves it alone.
        Write("crowdsec");
        var lines = new List<string>();
        using var gate = StartGate(conf, lines);
        int Count(string text)
        {
            lock (lines)
                return lines.Count(l => l.Contains(text, StringComparison.Ordinal));
        }
        try
        {
            await Until(() => Count("listening on") == 1 && Count("crowdsec: 0 decision(s) in force") == 1, () => string.Join('\n', lines));
            Assert.Equal("hi\n", await TalkAsync(port, "127.0.0.5"));

            Write("crowdsec cscli");
            kill(gate.Id, 1);
            await Until(() => Count("crowdsec: 1 decision(s) in force; 1 ban(s) added") == 1, () => string.Join('\n', lines));
            Assert.Equal("", await TalkAsync(port, "127.0.0.5"));

            // Back to crowdsec only: the new bouncer's full list lifts the cscli ban it no longer follows.
            Write("crowdsec");
            kill(gate.Id, 1);
            await Until(() => Count("crowdsec: 0 decision(s) in force; 0 ban(s) added, 1 lifted") == 1, () => string.Join('\n', lines));
            Assert.Equal("hi\n", await TalkAsync(port, "127.0.0.5"));
        }
        finally
        {
            kill(gate.Id, 15);
            if (!gate.WaitForExit(30_000))
                gate.Kill();
            gate.WaitForExit();
        }
    }

    /// <summary>A real `giftwrap serve` with <paramref name="conf"/>, its log lines collected into <paramref name="lines"/>.</summary>
    /// <summary>One cat service behind the tables, the ban store and the bouncer; <paramref name="crowdsecExtra"/> ends the [crowdsec] section.</summary>
    private string GateConfig(int port, string lapi, string key, string crowdsecExtra = "") => $"""
        [tables]
        allow = {_dir}/hosts.allow
        deny = {_dir}/hosts.deny
        [log]
        syslog = off
        [service:cat]
        listen = 127.0.0.1:{port}
        exec = /bin/cat
        [bans]
        store = {_dir}/bans
        protect_loopback = no
        [crowdsec]
        lapi = {lapi}
        api_key_file = {key}
        poll = 1s
        {crowdsecExtra}
        """;

    private static Process StartGate(string conf, List<string> lines)
    {
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "giftwrap.dll"), "serve", "--config", conf])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        psi.Environment.Remove("SSH_CONNECTION");
        var gate = Process.Start(psi)!;
        gate.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (lines)
                    lines.Add(e.Data);
            }
        };
        gate.BeginErrorReadLine();
        return gate;
    }

    private static async Task Until(Func<bool> condition, Func<string> state)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (cts.IsCancellationRequested)
                Assert.Fail($"the gate did not get there within 60 s; it wrote:\n{state()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Sends "hi" from <paramref name="from"/> and returns what came back ("" when the gate refused).</summary>
    private static async Task<string> TalkAsync(int port, string from)
    {
        using var c = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        c.Bind(new IPEndPoint(IPAddress.Parse(from), 0));
        await c.ConnectAsync(IPAddress.Loopback, port);
        try
        {
            await c.SendAsync("hi\n"u8.ToArray(), SocketFlags.None);
            c.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // A refused connection may be closed already.
        }
        var sb = new StringBuilder();
        var buffer = new byte[256];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            int n;
            while ((n = await c.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
                sb.Append(Encoding.ASCII.GetString(buffer, 0, n));
        }
        catch (SocketException)
        {
            // A reset ends the conversation.
        }
        return sb.ToString();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
