// The gatekeeper's small pure parts: libwrap's %c as logged, and syslog levels as ILogger levels.
using Giftwrap.Decisions;
using Microsoft.Extensions.Logging;

namespace Giftwrap.AspNetCore.Tests;

public sealed class GatekeeperTests
{
    [Theory]
    [InlineData("10.1.2.3", null, null, "10.1.2.3")]
    [InlineData("10.1.2.3", "host.example.org", null, "host.example.org")]
    [InlineData("10.1.2.3", "unknown", null, "10.1.2.3")]
    [InlineData("10.1.2.3", "paranoid", null, "10.1.2.3")]
    [InlineData("10.1.2.3", "host.example.org", "bob", "bob@host.example.org")]
    [InlineData("10.1.2.3", null, "bob", "bob@10.1.2.3")]
    [InlineData("10.1.2.3", null, "unknown", "10.1.2.3")]
    [InlineData(null, null, null, "unknown")]
    public void ClientInfo_AsLibwrapLogsIt(string? address, string? name, string? user, string expected) =>
        Assert.Equal(expected, Gatekeeper.ClientInfo(new AccessRequest { ClientAddress = address, ClientName = name, ClientUser = user }));

    [Theory]
    [InlineData(0, LogLevel.Critical)]
    [InlineData(3, LogLevel.Error)]
    [InlineData(4, LogLevel.Warning)]
    [InlineData(5, LogLevel.Information)]
    [InlineData(6, LogLevel.Information)]
    [InlineData(7, LogLevel.Debug)]
    public void Severity_MapsToLogLevel(int syslog, LogLevel expected) =>
        Assert.Equal(expected, Gatekeeper.LevelOf(syslog));
}
