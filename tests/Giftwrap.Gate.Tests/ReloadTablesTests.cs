// Reloads and the live tables: a change to [limits] alone keeps the compiled tables (and their
// watches); new table paths give new tables, and the old ones are released as soon as the last
// connection deciding with them is decided, not on a timer.
using System.Net.Sockets;
using Giftwrap.Decisions;

namespace Giftwrap.Gate.Tests;

public sealed class ReloadTablesTests
{
    [Fact]
    public async Task Reload_LimitsOnly_KeepsTheTables()
    {
        await using var gate = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var config = gate.Config(GateProbes.Forward("echo", port, echo.Port));
        var server = gate.Start(config);
        var tables = server.Tables;
        server.Reload(config with { Limits = config.Limits with { MaxPerSource = 3 } });
        Assert.Same(tables, server.Tables);
        Assert.Equal(1, tables.References);
        using var c = await GateFixture.ConnectAsync(port);
        await c.SendAsync("hi"u8.ToArray(), SocketFlags.None);
        c.Shutdown(SocketShutdown.Send);
        Assert.Equal("hi", await GateFixture.ReadAllAsync(c));
    }

    [Fact]
    public async Task Reload_NewTablePaths_OldTablesReleasedWhenTheirLastConnectionIsDecided()
    {
        // The old tables grant only a client whose name is known; the new ones grant everybody.
        await using var gate = new GateFixture("echo: .example\n", "ALL: ALL\n");
        var other = Directory.CreateTempSubdirectory("giftwrap-gate-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(other, "hosts.allow"), "ALL: ALL\n");
            File.WriteAllText(Path.Combine(other, "hosts.deny"), "");
            using var echo = new EchoServer();
            var port = GateFixture.FreePort();
            var config = gate.Config(GateProbes.Forward("echo", port, echo.Port));
            var lookups = new HeldLookups();
            var server = gate.Start(config, lookups);
            var old = server.Tables;

            // A connection that is being decided by the old tables: its name lookup is held.
            using var held = await GateFixture.ConnectAsync(port, from: "127.0.0.21");
            await lookups.Asked.WaitAsync(TimeSpan.FromSeconds(30));
            server.Reload(config with { Allow = Path.Combine(other, "hosts.allow"), Deny = Path.Combine(other, "hosts.deny") });
            Assert.NotSame(old, server.Tables);
            // The gate's reference is gone; the connection's keeps the old tables alive.
            Assert.Equal(1, old.References);

            // New connections are decided by the new tables meanwhile.
            using (var fresh = await GateFixture.ConnectAsync(port, from: "127.0.0.22"))
            {
                await fresh.SendAsync("new"u8.ToArray(), SocketFlags.None);
                fresh.Shutdown(SocketShutdown.Send);
                Assert.Equal("new", await GateFixture.ReadAllAsync(fresh));
            }

            // The held connection is decided by the tables it started with (its name is known: granted),
            // and with that the old tables are released.
            lookups.Release("host.example");
            await held.SendAsync("old"u8.ToArray(), SocketFlags.None);
            held.Shutdown(SocketShutdown.Send);
            Assert.Equal("old", await GateFixture.ReadAllAsync(held));
            Assert.Equal(0, old.References);
            Assert.Equal(1, server.Tables.References);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }

    /// <summary>Host name lookups that wait until the test releases them; users are unknown.</summary>
    private sealed class HeldLookups : IRequestLookups
    {
        private readonly TaskCompletionSource<string> _name = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _asked = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Asked => _asked.Task;

        public void Release(string name) => _name.TrySetResult(name);

        public async ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken)
        {
            _asked.TrySetResult();
            return await _name.Task.WaitAsync(cancellationToken);
        }

        public ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken) => ValueTask.FromResult(AccessRequest.Unknown);
    }
}
