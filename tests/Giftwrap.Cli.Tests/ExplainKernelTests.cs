// `giftwrap explain` ends with what kernel address rules would do with the client address:
// refused whatever the lookups say, or held with the rule that kept it out.
using System.Text.Json;

namespace Giftwrap.Cli.Tests;

public sealed class ExplainKernelTests
{
    [Fact]
    public void Explain_ClientAddress_ShowsTheKernelVerdict()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "sshd: 192.168.0.0/16 : spawn /bin/true\nsshd: KNOWN EXCEPT 10.0.0.0/8\n");
        dir.Write("hosts.deny", "ALL: 10.0.0.0/8\n");
        var refused = CliRunner.Run(dir.Path, "explain", "-d", "sshd", "10.1.2.3");
        Assert.Equal(0, refused.ExitCode);
        Assert.EndsWith("kernel:   refused whatever the lookups say (address rules may drop it)\n", refused.Stdout);
        var spawn = CliRunner.Run(dir.Path, "explain", "-d", "sshd", "192.168.1.1").Stdout;
        Assert.EndsWith("kernel:   held (192.168.0.0/16): the rule has options to carry out (spawn) (hosts.allow line 1)\n", spawn);
        var known = CliRunner.Run(dir.Path, "explain", "-d", "--json", "sshd", "172.16.0.1").Stdout;
        using var doc = JsonDocument.Parse(known);
        var kernel = doc.RootElement[0].GetProperty("kernel");
        Assert.False(kernel.GetProperty("refused").GetBoolean());
        Assert.Equal("hosts.allow:2", kernel.GetProperty("rule").GetString());
        Assert.Equal("may be granted: depends on the client host name (KNOWN)", kernel.GetProperty("reason").GetString());
    }
}
