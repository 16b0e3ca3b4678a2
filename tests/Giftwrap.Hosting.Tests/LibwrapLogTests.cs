// libwrap's lines as LibwrapLog builds them, byte for byte as Debian's tcpd writes them (the
// differential tests compare the gate's and tcpd mode's syslog with the real tcpd's), and as an
// ILogger host (Kestrel) receives them: "DAEMON: TEXT" with a fixed event id and a mapped level.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Logging;
using Microsoft.Extensions.Logging;

namespace Giftwrap.Hosting.Tests;

public sealed class LibwrapLogTests
{
    private static readonly AccessRequest Request =
        AccessRequest.ForConnection("sshd", new IPEndPoint(IPAddress.Parse("127.0.0.9"), 40000), new IPEndPoint(IPAddress.Loopback, 22)) with { CanLookUp = false };

    public static TheoryData<string, string, SyslogSeverity, int> Lines() => new()
    {
        { "connect", "connect from 127.0.0.9 (127.0.0.9)", SyslogSeverity.Info, 1 },
        { "refused", "refused connect from 127.0.0.9 (127.0.0.9)", SyslogSeverity.Warning, 2 },
        { "banned", "refused connect from 127.0.0.9 (127.0.0.9) (banned: probing)", SyslogSeverity.Warning, 3 },
        { "timeout", "refused connect from 127.0.0.9 (127.0.0.9) (no decision within 5s)", SyslogSeverity.Warning, 4 },
        { "aclexec", "aclexec returned 1", SyslogSeverity.Info, 8 },
        { "twist", "twist 127.0.0.9 to echo hi", SyslogSeverity.Warning, 12 },
        { "cannot-execute", "error: cannot execute /usr/sbin/x: No such file or directory", SyslogSeverity.Err, 14 },
        { "twist-failed", "warning: twist_option: /bin/sh: Permission denied", SyslogSeverity.Err, 15 },
    };

    private static LibwrapLine Build(string name) => name switch
    {
        "connect" => LibwrapLog.Connect(Request),
        "refused" => LibwrapLog.Refused(Request),
        "banned" => LibwrapLog.RefusedBanned(Request, "probing"),
        "timeout" => LibwrapLog.RefusedNoDecision(Request, TimeSpan.FromSeconds(5)),
        "aclexec" => LibwrapLog.AclExecReturned("sshd"),
        "twist" => LibwrapLog.Twist(Request, "echo hi"),
        "cannot-execute" => LibwrapLog.CannotExecute("sshd", "/usr/sbin/x", "No such file or directory"),
        "twist-failed" => LibwrapLog.TwistFailed("sshd", null, "Permission denied"),
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void Line_AsLibwrapWritesIt(string name, string text, SyslogSeverity severity, int eventId)
    {
        var line = Build(name);
        Assert.Equal(text, line.Text);
        Assert.Equal(severity, line.Severity);
        Assert.Equal(eventId, (int)line.Event);
        Assert.Equal("sshd", line.Daemon);
    }

    [Fact]
    public void WriteTo_ILogger_DaemonPrefixedWithEventAndLevel()
    {
        var logger = new ListLogger();
        LibwrapLog.Refused(Request, SyslogSeverity.Notice).WriteTo(logger);
        var (level, id, message, state) = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Information, level);
        Assert.Equal(2, id.Id);
        Assert.Equal("sshd: refused connect from 127.0.0.9 (127.0.0.9)", message);
        Assert.Contains(new KeyValuePair<string, object?>("Daemon", "sshd"), state);
        Assert.Contains(new KeyValuePair<string, object?>("{OriginalFormat}", "{Daemon}: {Line}"), state);
    }

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel, EventId, string, IReadOnlyList<KeyValuePair<string, object?>>)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, eventId, formatter(state, exception), (IReadOnlyList<KeyValuePair<string, object?>>)state!));
    }
}
