// SIGHUP while the configuration is rewritten in place: a cut file must never be taken as
// valid (without its [tables] the gate would judge by /etc/hosts.allow and /etc/hosts.deny).
// The rules are those of Reloading.cs: a final newline, every running section still there,
// the same bytes on two reads, and a valid whole.
using System.Net;
using System.Net.Sockets;
using Giftwrap.Cli.Commands;
using Giftwrap.Configuration;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ReloadTests
{
    private static string Full(string dir, int port) =>
        $"[log]\nsyslog = off\n[service:cat]\nlisten = 127.0.0.1:{port}\nexec = /bin/cat\n[tables]\nallow = {dir}/hosts.allow\ndeny = {dir}/hosts.deny\n";

    [Fact]
    public void Read_CutFiles_Refused_CompleteFile_Taken()
    {
        using var dir = new TempDir();
        var full = Full(dir.Path, 40000);
        var conf = dir.Write("giftwrap.conf", full);
        var running = ConfigFile.Read(conf);
        Assert.Empty(running.Errors);

        // Cut inside a line: no final newline.
        File.WriteAllText(conf, full[..(full.IndexOf("[tables]", StringComparison.Ordinal) + 4)]);
        var r = Reloading.Read(conf, [], null, running);
        Assert.Null(r.Settings);
        Assert.Contains(r.Errors, e => e.Contains("the last line has no newline: the file may be half written", StringComparison.Ordinal));

        // Cut at a line end, before [tables]: a valid-looking file whose tables would be /etc's.
        File.WriteAllText(conf, full[..full.IndexOf("[tables]", StringComparison.Ordinal)]);
        r = Reloading.Read(conf, [], null, running);
        Assert.Null(r.Settings);
        Assert.Contains(r.Errors, e => e.Contains($"{conf}: [tables] is gone (it was at line 6)", StringComparison.Ordinal));

        // Empty (truncated, not yet written).
        File.WriteAllText(conf, "");
        Assert.Null(Reloading.Read(conf, [], null, running).Settings);

        File.WriteAllText(conf, full + "[limits]\nmax_per_source = 5\n");
        r = Reloading.Read(conf, [], null, running);
        Assert.Empty(r.Errors);
        Assert.Equal(5, r.Settings!.Gate.Limits.MaxPerSource);
        Assert.Equal($"{dir.Path}/hosts.allow", r.Settings.Gate.Allow);
    }

    [Fact]
    public async Task Read_ConfigSwappedForAFifo_RefusedWithoutWaiting()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", Full(dir.Path, 40001));
        var running = ConfigFile.Read(conf);
        Assert.Empty(running.Errors);
        // A SIGHUP after the file became a FIFO (or a link to one): reading it must not wait for a writer.
        File.Delete(conf);
        Assert.Equal(0, Loopback.MakeFifo(conf));
        var r = await Task.Run(() => Reloading.Read(conf, [], null, running)).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Null(r.Settings);
        Assert.Contains(r.Errors, e => e.Contains($"{conf}: cannot read the configuration: a FIFO, not a regular file", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_ConfigSwappedForDevZero_RefusedWithoutReadingIt()
    {
        using var dir = new TempDir();
        var conf = dir.Write("giftwrap.conf", Full(dir.Path, 40002));
        var running = ConfigFile.Read(conf);
        File.Delete(conf);
        File.CreateSymbolicLink(conf, "/dev/zero");
        var r = Reloading.Read(conf, [], null, running);
        Assert.Null(r.Settings);
        Assert.Contains(r.Errors, e => e.Contains($"{conf}: cannot read the configuration: a character device, not a regular file", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Serve_HupOnACutFile_KeepsTheRunningConfiguration()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "");
        dir.Write("hosts.deny", "ALL: 127.0.0.1\n"); // the gate's own tables refuse loopback; /etc's might not
        var port = Loopback.FreePort();
        var full = Full(dir.Path, port);
        var conf = dir.Write("giftwrap.conf", full);
        var gate = new ServeProcess(conf, drainSeconds: 1);
        try
        {
            await gate.WaitForAsync("listening on", TimeSpan.FromSeconds(30));
            File.WriteAllText(conf, full[..full.IndexOf("[tables]", StringComparison.Ordinal)]);
            Assert.Equal(0, Loopback.Signal(gate.Id, 1));
            await gate.WaitForAsync("reload refused", TimeSpan.FromSeconds(30));
            File.WriteAllText(conf, full[..(full.IndexOf("allow =", StringComparison.Ordinal) + 3)]);
            Assert.Equal(0, Loopback.Signal(gate.Id, 1));
            await gate.WaitForAsync("reload refused", TimeSpan.FromSeconds(30), count: 2);

            // Still the running tables: loopback is refused (the connection is closed without an echo).
            using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(IPAddress.Loopback, port);
            await s.SendAsync("hello\n"u8.ToArray(), SocketFlags.None);
            var buffer = new byte[16];
            try
            {
                Assert.Equal(0, await s.ReceiveAsync(buffer.AsMemory(), SocketFlags.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // Closed with data unread: a reset, also a refusal.
            }
        }
        finally
        {
            gate.Dispose();
        }
        var log = gate.Stderr;
        Assert.Contains("[tables] is gone", log, StringComparison.Ordinal);
        Assert.Contains("the last line has no newline", log, StringComparison.Ordinal);
        Assert.DoesNotContain("configuration reloaded", log, StringComparison.Ordinal);
    }
}
