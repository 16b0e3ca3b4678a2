// A syslog socket of a test's own, as /dev/log is: a Unix datagram socket bound at a path in the
// test's directory, for a serve or tcpd whose [log] syslog (or mount namespace) points there.
// Reading what arrived is the test's (ServeLogTests.ReceiveAsync for decision lines).
using System.Net.Sockets;

namespace Giftwrap.Cli.Tests;

internal static class SyslogListener
{
    /// <summary>A datagram socket bound at <paramref name="path"/>; the caller disposes of it.</summary>
    public static Socket Bind(string path)
    {
        var log = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        log.Bind(new UnixDomainSocketEndPoint(path));
        return log;
    }
}
