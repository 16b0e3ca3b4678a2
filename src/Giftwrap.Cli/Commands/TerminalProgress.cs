// A one-line progress note on stderr for the slow jobs (compiling large tables, replaying a
// large log, loading many bans), shown only when stderr is a terminal: scripts, pipes and logs
// never see it. A timer redraws the line four times a second; the work itself only bumps a
// counter (or nothing), so the fast paths stay as they are. The line is erased when done.
using System.Diagnostics;
using System.Globalization;

namespace Giftwrap.Cli.Commands;

internal sealed class TerminalProgress : IDisposable
{
    private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(250);
    private readonly string _what;
    private readonly Func<string>? _status;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Lock _drawing = new();
    private readonly Timer _timer;
    private bool _done;

    private TerminalProgress(string what, Func<string>? status)
    {
        _what = what;
        _status = status;
        Draw();
        _timer = new Timer(_ => Draw(), null, Every, Every);
    }

    /// <summary>Whether progress is shown at all: stderr is a terminal.</summary>
    public static bool Shown => !Console.IsErrorRedirected;

    /// <summary>
    /// Starts showing "<paramref name="what"/> <paramref name="status"/> (Ns)" on a terminal; null (show
    /// nothing, cost nothing) when stderr is redirected. <paramref name="status"/> runs on a timer thread.
    /// </summary>
    public static TerminalProgress? Start(string what, Func<string>? status = null) =>
        Shown ? new TerminalProgress(what, status) : null;

    /// <summary>"12.3 MB": a size for the note.</summary>
    public static string Size(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MB"),
    };

    /// <summary>The size of a file, or 0 when it cannot be seen.</summary>
    public static long FileSize(string path)
    {
        try
        {
            return new FileInfo(path) is { Exists: true } f ? f.Length : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            // The job itself reports an unreadable file; the note just leaves the size out.
            return 0;
        }
    }

    private void Draw()
    {
        lock (_drawing)
        {
            if (_done)
                return;
            var status = _status?.Invoke();
            var seconds = _clock.Elapsed.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
            // \r and erase-to-end-of-line: the note overwrites itself instead of scrolling.
            Console.Error.Write(status is { Length: > 0 } ? $"\rgiftwrap: {_what} {status} ({seconds}s)\x1b[K" : $"\rgiftwrap: {_what} ({seconds}s)\x1b[K");
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        lock (_drawing)
        {
            if (_done)
                return;
            _done = true;
            Console.Error.Write("\r\x1b[K");
        }
    }
}

/// <summary>A read-only stream that counts what was read through it, for a progress note on another thread.</summary>
internal sealed class CountingStream(Stream inner) : Stream
{
    private long _read;

    public long BytesRead => Volatile.Read(ref _read);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => BytesRead;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Counted(inner.Read(buffer, offset, count));

    public override int Read(Span<byte> buffer) => Counted(inner.Read(buffer));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Counted(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Counted(int n)
    {
        Volatile.Write(ref _read, _read + n);
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            inner.Dispose();
        base.Dispose(disposing);
    }
}
