// Writes RFC 3164 lines, "<PRI>Mmm dd hh:mm:ss TAG[PID]: message", to the local syslog socket
// (/dev/log, a Unix datagram socket), as syslog(3) does for libwrap. It never throws into the
// caller and never blocks: a message that cannot be sent is dropped and counted in Failures.
// Not a syslog client for the network (RFC 5424/5426) and no structured data; that is intentional.
// The socket is a plain descriptor (socket(2), connect(2), send(2)) rather than a .NET Socket:
// tcpd mode logs once per process, and the first Socket starts the runtime's I/O engine thread.
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Giftwrap.Logging;
using Giftwrap.Net.Interop;

namespace Giftwrap.Net.Syslog;

/// <summary>Facility codes (the value, not shifted), as in syslog(3).</summary>
public static class SyslogFacility
{
    /// <summary>LOG_USER.</summary>
    public const int User = 1;
    /// <summary>LOG_MAIL.</summary>
    public const int Mail = 2;
    /// <summary>LOG_DAEMON, libwrap's default.</summary>
    public const int Daemon = 3;
    /// <summary>LOG_AUTH.</summary>
    public const int Auth = 4;
    /// <summary>LOG_AUTHPRIV.</summary>
    public const int AuthPriv = 10;
    /// <summary>LOG_LOCAL0; LOCAL1 to LOCAL7 are 17 to 23.</summary>
    public const int Local0 = 16;
    /// <summary>LOG_LOCAL7.</summary>
    public const int Local7 = 23;
}

/// <summary>Sends messages to the local syslog daemon over a Unix datagram socket. Thread-safe.</summary>
public sealed class SyslogWriter : IDisposable
{
    /// <summary>The longest datagram sent, in bytes; longer messages are cut (RFC 3164 4.1 allows 1,024, rsyslog takes 8 KB).</summary>
    public const int MaxDatagramLength = 2048;

    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    private readonly string _socketPath;
    private readonly string _tag;
    private readonly int _facility;
    private readonly TimeProvider _clock;
    private readonly int _processId = Environment.ProcessId;
    private readonly Lock _gate = new();
    private int _fd = -1;
    private long _failures;
    private bool _disposed;

    /// <summary>
    /// Creates a writer. <paramref name="tag"/> is the program name shown before the pid (control chars, spaces,
    /// ':' and '[' become '_', cut to 32 chars); <paramref name="facility"/> is 0 to 23 (<see cref="SyslogFacility"/>).
    /// The socket is opened on first use and again after it goes away.
    /// </summary>
    public SyslogWriter(string tag, int facility = SyslogFacility.Daemon, string socketPath = "/dev/log", TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(tag);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        ArgumentOutOfRangeException.ThrowIfLessThan(facility, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(facility, 23);
        _tag = CleanTag(tag);
        _facility = facility;
        _socketPath = socketPath;
        _clock = clock ?? TimeProvider.System;
    }

    /// <summary>How many messages were dropped: no syslog socket, a full queue, or after disposal.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// Sends <paramref name="message"/> at <paramref name="severity"/> (<see cref="SyslogSeverity"/>; bits above the severity are
    /// masked off as syslog(3) does). NUL and LF become spaces, so one call is one line that no text can forge a second
    /// one in; other control characters (CR, TAB, ...) are sent as they are, as syslog(3) sends libwrap's (a banner line
    /// ending in '%' makes libwrap log "unrecognized %\r").
    /// Never throws and never blocks; returns false when the message was dropped (also counted in <see cref="Failures"/>).
    /// </summary>
    public bool Log(SyslogSeverity severity, string message)
    {
        lock (_gate)
        {
            // Connected first: with no syslog daemon the message is dropped without reading the clock.
            if (!_disposed && (_fd >= 0 || Reconnect()) && Send(Format((int)severity & 7, message ?? "", _clock.GetLocalNow())))
                return true;
        }
        Interlocked.Increment(ref _failures);
        return false;
    }

    /// <summary>Closes the socket; later messages are dropped.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            CloseSocket();
        }
    }

    /// <summary>The datagram for one message: RFC 3164 4.1 header, tag, pid, sanitised text, at most 2 KB.</summary>
    internal byte[] Format(int severity, string message, DateTimeOffset now)
    {
        var header = new StringBuilder(64);
        // RFC 3164 4.1.2: "Mmm dd hh:mm:ss", the day padded with a space, months in English whatever the locale.
        header.Append('<').Append((_facility * 8) + severity).Append('>')
            .Append(Months[now.Month - 1]).Append(' ')
            .Append(now.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2))
            .Append(' ').Append(now.ToString("HH:mm:ss", CultureInfo.InvariantCulture))
            .Append(' ').Append(_tag).Append('[').Append(_processId).Append("]: ");
        var line = new List<byte>(64 + Math.Min(message.Length, MaxDatagramLength));
        line.AddRange(Encoding.ASCII.GetBytes(header.ToString()));
        // Names, table text, banners and ident replies are carried one char per byte (Latin-1), and
        // syslog(3) sends libwrap's bytes as they are: a char up to U+00FF is that one byte (a host name
        // with 0xE9 from /etc/hosts goes out as 0xE9, as tcpd's "connect from" has it). A char above
        // U+00FF cannot have come from bytes that way, so it is text and goes out as UTF-8 rather than
        // as '?'. Cut at 2 KB between characters, never inside one's UTF-8 sequence.
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var r in message.EnumerateRunes())
        {
            int n;
            if (r.Value <= 0xFF)
            {
                utf8[0] = r.Value is 0 or '\n' ? (byte)' ' : (byte)r.Value;
                n = 1;
            }
            else
            {
                n = r.EncodeToUtf8(utf8);
            }
            if (line.Count + n > MaxDatagramLength)
                break;
            for (var i = 0; i < n; i++)
                line.Add(utf8[i]);
        }
        return [.. line];
    }

    private bool Send(byte[] datagram)
    {
        var errno = TrySend(datagram);
        // A full queue is the daemon being slow: drop. Anything else (refused, not connected) may be a
        // restarted daemon with a new socket: reopen once.
        if (errno is 0 or Libc.EAgain or Libc.ENoBufs)
            return errno == 0;
        return Reconnect() && TrySend(datagram) == 0;
    }

    /// <summary>Sends without blocking; 0 or the errno.</summary>
    private int TrySend(byte[] datagram)
    {
        if (_fd < 0)
            return Libc.ENotConn;
        return Libc.send(_fd, datagram, (nuint)datagram.Length, Libc.MsgNoSignal) >= 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    private bool Reconnect()
    {
        CloseSocket();
        var path = Encoding.UTF8.GetBytes(_socketPath);
        if (path.Length >= Libc.SunPathLength)
            return false;
        var fd = Libc.socket(Libc.AfUnix, Libc.SockDgram | Libc.SockNonBlock | Libc.SockCloExec, 0);
        if (fd < 0)
            return false;
        // struct sockaddr_un: the family, then the NUL-terminated path.
        var address = new byte[2 + Libc.SunPathLength];
        BitConverter.TryWriteBytes(address, (ushort)Libc.AfUnix);
        path.CopyTo(address, 2);
        if (Libc.connect(fd, address, (uint)(2 + path.Length + 1)) != 0)
        {
            // No syslog daemon (yet): the message is dropped, the next one tries again.
            _ = Libc.close(fd);
            return false;
        }
        _fd = fd;
        return true;
    }

    private void CloseSocket()
    {
        if (_fd >= 0)
        {
            _ = Libc.close(_fd);
            _fd = -1;
        }
    }

    private static string CleanTag(string tag)
    {
        var clean = new StringBuilder(Math.Min(tag.Length, 32));
        foreach (var c in tag.AsSpan(0, Math.Min(tag.Length, 32)))
            clean.Append(c is <= ' ' or ':' or '[' or ']' or > '~' ? '_' : c);
        return clean.Length == 0 ? "giftwrap" : clean.ToString();
    }
}
