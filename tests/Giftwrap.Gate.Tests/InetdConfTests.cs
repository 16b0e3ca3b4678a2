// `serve --inetd`'s reading of inetd.conf and services(5) on hostile lines: every problem is an
// error naming file:line, never an exception out of the reader (found by scripts/fuzz.sh inetd).
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

public sealed class InetdConfTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-inetd-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("127523")]
    [InlineData("65536")]
    [InlineData("0")]
    [InlineData("99999999999")]
    public void Read_PortOutOfRange_IsAnErrorWithItsLine(string port)
    {
        var (services, errors) = Read($"# services\n{port} stream tcp nowait nobody /bin/cat cat\n", "");
        Assert.Empty(services);
        Assert.Equal([$"{Path.Combine(_dir, "inetd.conf")}:2: port {port} is out of range (1-65535)"], errors);
    }

    [Fact]
    public void Read_ServicesFilePortOutOfRange_NamesNoService()
    {
        var (services, errors) = Read("huge stream tcp nowait nobody /bin/cat cat\necho stream tcp nowait nobody /bin/cat cat\n",
            "huge 70000/tcp\necho 7/tcp\n");
        Assert.Equal("echo/tcp", Assert.Single(services).Name);
        Assert.Equal(7, services[0].Listen[0].Port);
        Assert.Contains(errors, e => e.EndsWith(":1: unknown service \"huge\" (not in " + Path.Combine(_dir, "services") + ")", StringComparison.Ordinal));
    }

    [Fact]
    public void Read_SignedPort_IsNotAPort()
    {
        var (services, errors) = Read("+23 stream tcp nowait nobody /bin/cat cat\n", "");
        Assert.Empty(services);
        Assert.Single(errors);
    }

    private (IReadOnlyList<ServiceConfig> Services, List<string> Errors) Read(string conf, string servicesText)
    {
        var path = Path.Combine(_dir, "inetd.conf");
        var servicesPath = Path.Combine(_dir, "services");
        File.WriteAllText(path, conf);
        File.WriteAllText(servicesPath, servicesText);
        var errors = new List<string>();
        var services = InetdConf.Read(path, errors, [], servicesPath);
        return (services, errors);
    }
}
