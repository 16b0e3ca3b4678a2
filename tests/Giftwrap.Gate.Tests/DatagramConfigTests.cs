// How UDP services are read: `dgram udp wait` lines of an inetd.conf (ports from the
// services file's udp entries, tcpd unwrapped) and listen = udp:ADDRESS:PORT in the
// configuration, kept apart from the TCP addresses of the same key.
using System.Net;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

public sealed class DatagramConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-udp-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void InetdConf_DgramUdpWait_IsAUdpService_OtherDatagramLinesAreSkipped()
    {
        var services = Write("services", "tftp\t\t69/udp\ntalk\t\t517/udp\nfinger\t\t79/tcp\n");
        var inetd = Write("inetd.conf",
            "tftp dgram udp wait root /usr/sbin/tcpd in.tftpd -s /srv/tftp\n" +
            "talk dgram udp6 wait.10 nobody.tty /usr/sbin/in.talkd in.talkd\n" +
            "tftp dgram udp nowait root /usr/sbin/in.tftpd in.tftpd\n" +
            "finger stream tcp nowait nobody /usr/sbin/in.fingerd in.fingerd\n" +
            "finger dgram udp wait nobody /usr/sbin/in.fingerd in.fingerd\n");
        var errors = new List<string>();
        var skipped = new List<string>();
        var read = InetdConf.Read(inetd, errors, skipped, services);

        var tftp = Assert.Single(read, s => s.Name == "tftp/udp");
        Assert.Empty(tftp.Listen);
        Assert.Equal([new IPEndPoint(IPAddress.Any, 69)], tftp.ListenUdp);
        Assert.Equal("in.tftpd", tftp.Daemon);
        Assert.Equal(["/usr/sbin/in.tftpd", "-s", "/srv/tftp"], tftp.Exec);
        var talk = Assert.Single(read, s => s.Name == "talk/udp6");
        Assert.Equal([new IPEndPoint(IPAddress.IPv6Any, 517)], talk.ListenUdp);
        Assert.Equal("nobody", talk.User);
        var finger = Assert.Single(read, s => s.Name == "finger/tcp");
        Assert.Equal([new IPEndPoint(IPAddress.Any, 79)], finger.Listen);
        Assert.Empty(finger.ListenUdp);
        Assert.Contains(skipped, s => s.Contains("inetd.conf:3: skipped: only stream/tcp nowait and dgram/udp wait services are served (this is dgram/udp nowait)", StringComparison.Ordinal));
        // finger has no udp entry in the services file: its datagram line names the file.
        Assert.Contains(errors, e => e.Contains("inetd.conf:5: unknown service \"finger\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Config_ListenUdp_KeptApartFromTcp_AndNeedsExec()
    {
        var conf = Write("giftwrap.conf",
            "[log]\nsyslog = off\n[tables]\nallow = /dev/null\ndeny = /dev/null\n" +
            "[service:both]\nlisten = 127.0.0.1:7000 udp:127.0.0.1:7000, tcp:127.0.0.1:7001 udp:[::1]:7002\nexec = /bin/cat\n");
        var config = GateConfigLoader.Load(conf);
        var both = Assert.Single(config.Services);
        Assert.Equal([IPEndPoint.Parse("127.0.0.1:7000"), IPEndPoint.Parse("127.0.0.1:7001")], both.Listen);
        Assert.Equal([IPEndPoint.Parse("127.0.0.1:7000"), IPEndPoint.Parse("[::1]:7002")], both.ListenUdp);

        var bad = Write("bad.conf",
            "[log]\nsyslog = off\n[tables]\nallow = /dev/null\ndeny = /dev/null\n" +
            "[service:dns]\nlisten = udp:127.0.0.1:53\nforward = 127.0.0.1:5353\n" +
            "[service:typo]\nlisten = udp:localhost:69\nexec = /bin/cat\n");
        var error = Assert.Throws<GateConfigException>(() => GateConfigLoader.Load(bad));
        Assert.Contains(error.Errors, e => e.Contains("bad.conf:7:", StringComparison.Ordinal) && e.Contains("a UDP service needs exec = program", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Contains("bad.conf:10:", StringComparison.Ordinal) && e.Contains("host names are not looked up here", StringComparison.Ordinal));
    }
}
