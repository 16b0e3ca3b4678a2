// The arrows point one way: Giftwrap.Hosting is used by the gate and Kestrel and uses only the
// core, so a Kestrel user never pulls in the daemon. Checked on the built assembly's references.

namespace Giftwrap.Hosting.Tests;

public sealed class HostingReferencesTests
{
    [Fact]
    public void Hosting_References_OnlyTheCoreOfGiftwrap()
    {
        var ours = typeof(DecisionEngine).Assembly.GetReferencedAssemblies()
            .Select(a => a.Name!)
            .Where(n => n.StartsWith("Giftwrap", StringComparison.OrdinalIgnoreCase))
            .ToArray();
        Assert.Equal(["Giftwrap.Core"], ours);
    }

    [Theory]
    [InlineData(Logging.SyslogSeverity.Emerg, Microsoft.Extensions.Logging.LogLevel.Critical)]
    [InlineData(Logging.SyslogSeverity.Crit, Microsoft.Extensions.Logging.LogLevel.Critical)]
    [InlineData(Logging.SyslogSeverity.Err, Microsoft.Extensions.Logging.LogLevel.Error)]
    [InlineData(Logging.SyslogSeverity.Warning, Microsoft.Extensions.Logging.LogLevel.Warning)]
    [InlineData(Logging.SyslogSeverity.Notice, Microsoft.Extensions.Logging.LogLevel.Information)]
    [InlineData(Logging.SyslogSeverity.Info, Microsoft.Extensions.Logging.LogLevel.Information)]
    [InlineData(Logging.SyslogSeverity.Debug, Microsoft.Extensions.Logging.LogLevel.Debug)]
    public void ToLogLevel_EachSeverity_AsKestrelLogsIt(Logging.SyslogSeverity severity, Microsoft.Extensions.Logging.LogLevel expected) =>
        Assert.Equal(expected, severity.ToLogLevel());

    [Fact]
    public void Assemblies_Loaded_NoGateOrAspNetCore() =>
        Assert.DoesNotContain(typeof(DecisionEngine).Assembly.GetReferencedAssemblies(), a => a.Name is "Giftwrap.Gate" or "Giftwrap.AspNetCore" or "Giftwrap.Net");
}
