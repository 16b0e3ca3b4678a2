// Listening sockets: a second gate on an address a running gate holds fails to start, naming the
// address and service, and opens nothing (no SO_REUSEPORT, which would split the connections
// between two gates with different tables); a restart binds while refused connections of the
// last run linger in TIME_WAIT (SO_REUSEADDR stays).
using System.Net.Sockets;

namespace Giftwrap.Gate.Tests;

public sealed class ListeningTests
{
    [Fact]
    public async Task SecondGate_OnABusyAddress_FailsToStart_NamesTheAddress_AndOpensNothing()
    {
        await using var first = new GateFixture("ALL: ALL\n");
        await using var second = new GateFixture("ALL: ALL\n");
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        var other = GateFixture.FreePort();
        first.Start(first.Config(ConnectionAccountingTests.Forward("echo", port, echo.Port)));

        var config = second.Config(
            ConnectionAccountingTests.Forward("spare", other, echo.Port),
            ConnectionAccountingTests.Forward("echo", port, echo.Port));
        var error = Assert.Throws<SocketException>(() => second.Start(config));
        Assert.Equal(SocketError.AddressAlreadyInUse, error.SocketErrorCode);
        Assert.Contains($"127.0.0.1:{port} ([service:echo])", error.Message, StringComparison.Ordinal);
        // The service whose address was free was not left listening either.
        var refused = await Assert.ThrowsAnyAsync<SocketException>(() => GateFixture.ConnectAsync(other));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);

        // Every connection reaches the one gate.
        for (var i = 0; i < 20; i++)
            Assert.Equal($"c{i}", await ConnectionAccountingTests.EchoAsync(port, $"c{i}"));
        await ConnectionAccountingTests.WaitUntilAsync(
            () => first.LogLines.Count(l => l.Contains("connect from 127.0.0.1", StringComparison.Ordinal)) == 20, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Restart_WhileRefusedConnectionsLingerInTimeWait_Binds()
    {
        using var echo = new EchoServer();
        var port = GateFixture.FreePort();
        await using (var gate = new GateFixture("", "ALL: ALL\n"))
        {
            gate.Start(gate.Config(ConnectionAccountingTests.Forward("echo", port, echo.Port)));
            // Refused: the gate closes first, so its side of each connection waits in TIME_WAIT.
            for (var i = 0; i < 5; i++)
                Assert.Equal("", await ConnectionAccountingTests.EchoAsync(port, "x"));
        }
        await using var again = new GateFixture("ALL: ALL\n");
        again.Start(again.Config(ConnectionAccountingTests.Forward("echo", port, echo.Port)));
        Assert.Equal("back", await ConnectionAccountingTests.EchoAsync(port, "back"));
    }
}
