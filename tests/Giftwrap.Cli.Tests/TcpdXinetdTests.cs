// `giftwrap tcpd` and `giftwrap-tcpd` under a real xinetd, side by side with libwrap's tcpd on
// the same tables: for clients 127.0.0.1 to .4, all must send the same bytes and refuse the same clients.
using System.Text;

namespace Giftwrap.Cli.Tests;

public sealed class TcpdXinetdTests(XinetdFixture xinetd) : IClassFixture<XinetdFixture>
{
    private static readonly string[] Clients = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"];

    /// <summary>Rules only about the daemon name "echo": xinetd's own check (by service name) never matches them.</summary>
    public static TheoryData<string, string, string> Tables => new()
    {
        { "plain", "echo: 127.0.0.1 127.0.0.3\n", "echo: ALL\n" },
        { "twist", "echo: 127.0.0.2: twist /bin/echo twisted %a %d\n", "echo: 127.0.0.4: twist /bin/echo go away %a %d\necho: ALL\n" },
        { "except", "echo: 127.0.0.0/255.255.255.0 EXCEPT 127.0.0.2 127.0.0.4\n", "echo: ALL\n" },
        { "allow-deny-options", "echo: 127.0.0.2 127.0.0.4: deny\n", "echo: 127.0.0.3: allow\necho: ALL\n" },
        { "banners", "echo: 127.0.0.1 127.0.0.2: banners DIR/banners\n", "echo: ALL: banners DIR/banners\n" },
        { "spawn", "echo: 127.0.0.1 127.0.0.2: spawn /bin/echo %a %d >> DIR/spawned\n", "echo: ALL: spawn /bin/echo refused %a >> DIR/spawned\n" },
        { "process", "echo: 127.0.0.1: umask 077: twist umask\necho: 127.0.0.3: nice 5: twist nice\n", "echo: ALL: twist /bin/echo no\n" },
        { "names", "echo: 127.0.0.1: twist /bin/echo %n %h %c\necho: LOCAL EXCEPT 127.0.0.4\n", "echo: ALL: twist /bin/echo no %h %c\n" },
    };

    [Theory]
    [MemberData(nameof(Tables))]
    public Task Tcpd_SameTables_GiftwrapAnswersEveryClientAsLibwrap(string variant, string allow, string deny) =>
        CompareAsync(variant, allow, deny);

    [Fact(Skip = "deliberate: Debian's libwrap 7.6.q-32 checks user/group but never switches identity (hosts_access then getuid() is still 0); Giftwrap applies them as hosts_options(5) documents and the gate issue asks")]
    public Task Tcpd_UserOptionThenTwist_RunsAsLibwrapDoes() =>
        CompareAsync("user", "echo: 127.0.0.2: user nobody: twist id -un\n", "echo: ALL\n");

    [Fact]
    public Task Tcpd_HostInfoBeforeHostName_IsTheAddressAsInLibwrap() =>
        CompareAsync("hostinfo-first", "echo: 127.0.0.1: twist /bin/echo %h %n\n", "echo: ALL\n");

    private async Task CompareAsync(string variant, string allow, string deny)
    {
        Directory.CreateDirectory(Path.Combine(xinetd.Dir.Path, "banners"));
        File.WriteAllText(Path.Combine(xinetd.Dir.Path, "banners", "echo"), "Hello %a\nthis is %d\n");
        xinetd.SetTables(allow, deny);
        var libwrap = new StringBuilder();
        var giftwrap = new StringBuilder();
        var lean = new StringBuilder();
        foreach (var client in Clients)
        {
            libwrap.AppendLine(await AskAsync(xinetd.LibwrapPort, client));
            giftwrap.AppendLine(await AskAsync(xinetd.GiftwrapPort, client));
            lean.AppendLine(await AskAsync(xinetd.LeanPort, client));
        }
        Assert.Equal(libwrap.ToString(), giftwrap.ToString());
        Assert.Equal(libwrap.ToString(), lean.ToString());
        Assert.True(libwrap.ToString().Split('\n').Count(l => l.Contains("served", StringComparison.Ordinal)) < Clients.Length,
            $"{variant}: libwrap served every client, so refusals were not compared:\n{libwrap}");
    }

    [Fact]
    public async Task Tcpd_PlainTables_ServeOnlyTheAllowedClients()
    {
        xinetd.SetTables("echo: 127.0.0.1 127.0.0.3\n", "echo: ALL\n");
        foreach (var port in new[] { xinetd.LibwrapPort, xinetd.GiftwrapPort, xinetd.LeanPort })
        {
            Assert.Equal(new Reply("served\n", false), await XinetdFixture.AskAsync(port, "127.0.0.1"));
            Assert.Equal("", (await XinetdFixture.AskAsync(port, "127.0.0.2")).Text);
        }
    }

    /// <summary>One client's answer as a line: what it was sent, how it ended, and what spawn wrote.</summary>
    private async Task<string> AskAsync(int port, string client)
    {
        var spawned = Path.Combine(xinetd.Dir.Path, "spawned");
        File.WriteAllText(spawned, "");
        var reply = await XinetdFixture.AskAsync(port, client);
        // Both tcpds wait for a spawned command before they exec or exit: the file is complete.
        var spawn = File.ReadAllText(spawned);
        return $"{client}: text=\"{Escape(reply.Text)}\" reset={reply.Reset} spawn=\"{Escape(spawn)}\"";
    }

    private static string Escape(string s) => s.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
