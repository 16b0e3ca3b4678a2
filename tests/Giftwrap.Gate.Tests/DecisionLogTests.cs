// The decision log: one JSON line per decision from the gate, readable by replay,
// rotated by size so it stays bounded.
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Giftwrap.Decisions;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Logging;

namespace Giftwrap.Gate.Tests;

public sealed class DecisionLogTests
{
    [Fact]
    public async Task Gate_WritesOneJsonLinePerDecision()
    {
        await using var gate = new GateFixture("echo: 127.0.0.1\n", "ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var log = Path.Combine(gate.Directory, "decisions.jsonl");
        gate.Start(gate.Config(new ServiceConfig
        {
            Name = "echo",
            Daemon = "echo",
            Listen = [new IPEndPoint(IPAddress.Loopback, port)],
            Forward = new IPEndPoint(IPAddress.Loopback, echo.Port),
        }) with { DecisionLog = log });
        using (var ok = await GateFixture.ConnectAsync(port))
        {
            ok.Shutdown(SocketShutdown.Send);
            await GateFixture.ReadAllAsync(ok);
        }
        using (var no = await GateFixture.ConnectAsync(port, from: "127.0.0.44"))
            await GateFixture.ReadAllAsync(no);
        await gate.WaitForLogAsync("refused connect from 127.0.0.44");
        var lines = File.ReadAllLines(log).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Contains(lines, l => l.GetProperty("client").GetString() == "127.0.0.1" && l.GetProperty("verdict").GetString() == "granted"
            && l.GetProperty("match").GetString() == $"{gate.Allow}:1" && l.GetProperty("daemon").GetString() == "echo");
        Assert.Contains(lines, l => l.GetProperty("client").GetString() == "127.0.0.44" && l.GetProperty("verdict").GetString() == "denied"
            && l.GetProperty("match").GetString() == $"{gate.Deny}:1");
    }

    [Fact]
    public void DecisionLog_RotatesBySize_KeepingABoundedNumberOfFiles()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-dlog-").FullName;
        try
        {
            var path = Path.Combine(dir, "d.jsonl");
            using (var log = new DecisionLog(path, maxBytes: 8192, keep: 2))
            {
                var r = new AccessRequest { Daemon = "sshd", ClientAddress = "192.0.2.1" };
                var d = new Giftwrap.Tables.AccessTables(Path.Combine(dir, "none"), Path.Combine(dir, "none")).Decide(r);
                for (var i = 0; i < 1000; i++)
                    log.Write(r, d, "granted");
            }
            Assert.True(File.Exists(path));
            Assert.True(File.Exists(path + ".1"));
            Assert.True(File.Exists(path + ".2"));
            Assert.False(File.Exists(path + ".3"));
            Assert.All(new[] { path, path + ".1", path + ".2" }, f => Assert.True(new FileInfo(f).Length <= 8192));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task DecisionLog_PathIsAFifo_WriteCountsAFailureWithoutWaiting()
    {
        // Opening a FIFO for writing waits for a reader, and the log is written under the lock every decision
        // takes: with [log] decisions naming one, the gate answered no connection at all.
        var dir = Directory.CreateTempSubdirectory("giftwrap-dlog-").FullName;
        try
        {
            var path = Path.Combine(dir, "fifo");
            using (var p = System.Diagnostics.Process.Start("mkfifo", [path]))
            {
                await p.WaitForExitAsync();
                Assert.Equal(0, p.ExitCode);
            }
            using var log = new DecisionLog(path);
            var r = new AccessRequest { Daemon = "sshd", ClientAddress = "192.0.2.1" };
            using var tables = new Giftwrap.Tables.AccessTables(Path.Combine(dir, "none"), Path.Combine(dir, "none"));
            var d = tables.Decide(r);
            var write = Task.Run(() => log.Write(r, d, "granted"));
            if (await Task.WhenAny(write, Task.Delay(TimeSpan.FromSeconds(30))) != write)
            {
                // The reader the open(2) waits for: the write goes on, the lock is let go, the test ends.
                using (new FileStream(path, FileMode.Open, FileAccess.Read)) { }
                Assert.Fail("the decision log waited in open(2) on the FIFO");
            }
            Assert.Equal(1, log.Failures);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
