// RFC 3164 lines over a Unix datagram socket, read back by a receiver bound at a temporary path.
using Giftwrap.Logging;
using Giftwrap.Net.Syslog;
using Giftwrap.Net.Tests.Peers;

namespace Giftwrap.Net.Tests;

public sealed class SyslogWriterTests
{
    private static readonly ManualClock Clock = new(new DateTimeOffset(2024, 1, 5, 3, 4, 5, TimeSpan.Zero));
    private static readonly int Pid = Environment.ProcessId;

    [Fact]
    public async Task Log_Message_Rfc3164Line()
    {
        using var receiver = new SyslogReceiver();
        using var writer = new SyslogWriter("sshd", SyslogFacility.Auth, receiver.Path, Clock);
        Assert.True(writer.Log(SyslogSeverity.Info, "connect from 192.0.2.1"));
        Assert.Equal($"<38>Jan  5 03:04:05 sshd[{Pid}]: connect from 192.0.2.1", await receiver.ReceiveAsync());
        Assert.Equal(0, writer.Failures);
    }

    [Theory]
    [InlineData(SyslogFacility.Daemon, SyslogSeverity.Notice, 29)]
    [InlineData(SyslogFacility.Daemon, SyslogSeverity.Warning, 28)]
    [InlineData(SyslogFacility.AuthPriv, SyslogSeverity.Info, 86)]
    [InlineData(SyslogFacility.Local7, SyslogSeverity.Debug, 191)]
    [InlineData(0, SyslogSeverity.Emerg, 0)]
    [InlineData(SyslogFacility.Daemon, (SyslogSeverity)(8 + (int)SyslogSeverity.Err), 27)]
    public async Task Log_FacilityAndSeverity_Pri(int facility, SyslogSeverity severity, int pri)
    {
        using var receiver = new SyslogReceiver();
        using var writer = new SyslogWriter("giftwrap", facility, receiver.Path, Clock);
        writer.Log(severity, "x");
        Assert.StartsWith($"<{pri}>Jan  5 ", await receiver.ReceiveAsync());
    }

    [Fact]
    public async Task Log_NewlinesAndNul_OneLine_OtherControlsAsSyslog3SendsThem()
    {
        using var receiver = new SyslogReceiver();
        using var writer = new SyslogWriter("giftwrap", SyslogFacility.Daemon, receiver.Path, Clock);
        writer.Log(SyslogSeverity.Info, "a\nJan  5 03:04:05 fake[1]: b\0c\r\td");
        Assert.EndsWith("]: a Jan  5 03:04:05 fake[1]: b c\r\td", await receiver.ReceiveAsync());
    }

    [Fact]
    public async Task Log_HugeMessage_CutTo2K()
    {
        using var receiver = new SyslogReceiver();
        using var writer = new SyslogWriter("giftwrap", SyslogFacility.Daemon, receiver.Path, Clock);
        writer.Log(SyslogSeverity.Info, new string('\u20ac', 100_000));
        var line = await receiver.ReceiveAsync();
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(line), 2000, SyslogWriter.MaxDatagramLength);
        Assert.EndsWith("\u20ac", line);
    }

    [Fact]
    public void Format_CharsUpToFF_OneByteEach_AsSyslog3SendsLibwrapsBytes_TextAboveAsUtf8()
    {
        // A host name from /etc/hosts with byte 0xE9 is carried as U+00E9 and must go out as 0xE9, not C3 A9;
        // a char above U+00FF is text, sent as UTF-8 rather than '?'.
        using var writer = new SyslogWriter("tcpd", SyslogFacility.Daemon, "/nonexistent", Clock);
        var datagram = writer.Format((int)SyslogSeverity.Info, "connect from caf\u00e9\u00ff (127.0.0.6) \u20ac", Clock.GetLocalNow());
        byte[] expected = [.. System.Text.Encoding.ASCII.GetBytes($"<30>Jan  5 03:04:05 tcpd[{Pid}]: connect from caf"), 0xE9, 0xFF,
            .. " (127.0.0.6) "u8, 0xE2, 0x82, 0xAC];
        Assert.Equal(expected, datagram);
    }

    [Fact]
    public void Log_NoSocket_CountedNotThrown()
    {
        var path = Path.Combine(Path.GetTempPath(), $"giftwrap-none-{Guid.NewGuid():N}.sock");
        using var writer = new SyslogWriter("giftwrap", SyslogFacility.Daemon, path);
        Assert.False(writer.Log(SyslogSeverity.Info, "lost"));
        Assert.False(writer.Log(SyslogSeverity.Info, "lost"));
        Assert.Equal(2, writer.Failures);
    }

    [Fact]
    public async Task Log_DaemonRestarted_Reconnects()
    {
        var path = Path.Combine(Path.GetTempPath(), $"giftwrap-re-{Guid.NewGuid():N}.sock");
        using var writer = new SyslogWriter("giftwrap", SyslogFacility.Daemon, path, Clock);
        using (var first = new SyslogReceiver(path))
        {
            writer.Log(SyslogSeverity.Info, "one");
            Assert.EndsWith("one", await first.ReceiveAsync());
        }
        Assert.False(writer.Log(SyslogSeverity.Info, "while down"));
        using var second = new SyslogReceiver(path);
        Assert.True(writer.Log(SyslogSeverity.Info, "two"));
        Assert.EndsWith("two", await second.ReceiveAsync());
        Assert.Equal(1, writer.Failures);
    }

    [Fact]
    public async Task Log_HostileTag_Cleaned()
    {
        using var receiver = new SyslogReceiver();
        using var writer = new SyslogWriter("a b:c[d]\n", SyslogFacility.Daemon, receiver.Path, Clock);
        writer.Log(SyslogSeverity.Info, "x");
        Assert.Equal($"<30>Jan  5 03:04:05 a_b_c_d__[{Pid}]: x", await receiver.ReceiveAsync());
    }

    [Fact]
    public void Log_AfterDispose_Dropped()
    {
        var writer = new SyslogWriter("giftwrap");
        writer.Dispose();
        Assert.False(writer.Log(SyslogSeverity.Info, "x"));
    }
}
