// Reading a table or pattern file the way fopen()/fgets() would see it: a missing
// file is empty, a directory reads as empty (a table; a pattern file refuses, see
// FileKind), anything else that cannot be opened is an error (libwrap: "cannot open").
// SECURITY: a file is read on a decision's path, so nothing it names may block: it is
// opened with O_NONBLOCK (a FIFO would hang open(2) until a writer came), only a
// regular file is read (FIFOs, devices and sockets are refused before and after the
// open, so a swap in between is caught), and sizes are bounded so a hostile file cannot
// exhaust memory; past the bound the file counts as unreadable (fail closed).
using System.Runtime.InteropServices;
using Giftwrap.Interop;
using Microsoft.Win32.SafeHandles;

namespace Giftwrap.Tables;

internal enum ReadOutcome
{
    Read,
    Missing,
    Failed,
    /// <summary>A pattern file that must not be read: a FIFO, device or socket, or one past the size bound (fails closed).</summary>
    Refused,
    /// <summary>A pattern file that is a directory: fopen() opens it and fscanf() reads nothing (libwrap: no match).</summary>
    Directory,
}

internal static class TableFile
{
    /// <summary>The largest table or pattern file read (a 1,000,000-rule hosts.deny is about 20 MB).</summary>
    public const long MaxBytes = 256L * 1024 * 1024;

    /// <summary>
    /// Reads <paramref name="path"/>. For a table (<paramref name="table"/>; else a /file pattern list) a directory is
    /// <see cref="ReadOutcome.Read"/> and empty, as fopen()/fgets() see it, and a FIFO, device or socket
    /// is <see cref="ReadOutcome.Failed"/>; for a pattern file a directory is <see cref="ReadOutcome.Directory"/>
    /// and the others <see cref="ReadOutcome.Refused"/>, with <paramref name="error"/> saying what the path is.
    /// With <paramref name="cut"/> a regular file larger than <paramref name="maxBytes"/> gives its first
    /// <paramref name="maxBytes"/> bytes instead of being refused (a banner file).
    /// </summary>
    public static ReadOutcome TryRead(string path, out byte[] data, out string? error, bool table = true, long maxBytes = MaxBytes, bool cut = false)
    {
        data = [];
        error = null;
        if (!OperatingSystem.IsLinux())
            return TryReadPortable(path, ref data, ref error, table, maxBytes, cut);
        try
        {
            return TryReadLinux(path, ref data, ref error, table, maxBytes, cut);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // A C library without statx (glibc before 2.28): the portable way, without the FIFO guard.
            return TryReadPortable(path, ref data, ref error, table, maxBytes, cut);
        }
    }

    private static ReadOutcome TryReadLinux(string path, ref byte[] data, ref string? error, bool table, long maxBytes, bool cut)
    {
        // Look before opening: a device is never opened (opening some has side effects), a FIFO never waited on.
        if (Stat(Libc.AtFdCwd, path, 0, out var mode, out _) is var errno and not 0)
            return errno == Libc.ENoEnt ? ReadOutcome.Missing : Failed(path, errno, ref error);
        if (Refuse(path, mode, table, ref error) is { } early)
            return early;
        var fd = Libc.open(path, Libc.ORdOnly | Libc.ONonBlock | Libc.ONoCtty | Libc.OCloExec);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return errno == Libc.ENoEnt ? ReadOutcome.Missing : Failed(path, errno, ref error);
        }
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        // Look again at what was opened: the path may have been replaced in between.
        if (Stat(fd, "", Libc.AtEmptyPath, out mode, out var size) is var e2 and not 0)
            return Failed(path, e2, ref error);
        if (Refuse(path, mode, table, ref error) is { } late)
            return late;
        return ReadOpened(handle, size, path, ref data, ref error, table, maxBytes, cut);
    }

    // The size said by stat, then the bytes themselves, must stay within the bound: a file that grows
    // while it is read is caught by the second test. A file read in part (cut) keeps its first maxBytes.
    private static ReadOutcome ReadOpened(SafeFileHandle handle, long size, string path, ref byte[] data, ref string? error, bool table, long maxBytes, bool cut)
    {
        if (size > maxBytes && !cut)
            return TooLarge(path, maxBytes, table, ref error);
        data = ReadBounded(handle, (int)Math.Min(size, maxBytes), maxBytes);
        if (data.Length > maxBytes && cut)
        {
            data = data.AsSpan(0, (int)maxBytes).ToArray();
        }
        else if (data.Length > maxBytes)
        {
            data = [];
            return TooLarge(path, maxBytes, table, ref error);
        }
        return ReadOutcome.Read;
    }

    private static ReadOutcome? Refuse(string path, int mode, bool table, ref string? error)
    {
        var type = mode & Libc.SIfMt;
        if (type == Libc.SIfReg)
            return null;
        if (type == Libc.SIfDir)
        {
            error = table ? null : $"{path}: a directory, not a regular file";
            return table ? ReadOutcome.Read : ReadOutcome.Directory;
        }
        if (table)
        {
            // A table that is a FIFO or a device: libwrap would hang or read garbage; an unreadable table.
            error = $"cannot open {path}: {Describe(type)}, not a regular file";
            return ReadOutcome.Failed;
        }
        error = $"{path}: {Describe(type)}, not a regular file";
        return ReadOutcome.Refused;
    }

    /// <summary>
    /// What <paramref name="path"/> is when it exists and is not a regular file ("a FIFO"), else null: for a file
    /// to be written (the decision log), looked at before it is opened, as opening a FIFO waits for the other end.
    /// </summary>
    public static string? NotRegular(string path)
    {
        if (!OperatingSystem.IsLinux() || Statx.Get(path, Statx.Type, out var st) != 0)
            return null;
        var type = st.Mode & Libc.SIfMt;
        return type == Libc.SIfReg ? null : Describe(type);
    }

    private static string Describe(int type) => type switch
    {
        Libc.SIfDir => "a directory",
        Libc.SIfIfo => "a FIFO",
        Libc.SIfChr => "a character device",
        Libc.SIfBlk => "a block device",
        Libc.SIfSock => "a socket",
        _ => "not a file",
    };

    private static ReadOutcome Failed(string path, int errno, ref string? error)
    {
        // libwrap's "cannot open %s: %m": the C library's text for errno.
        error = $"cannot open {path}: {Marshal.GetPInvokeErrorMessage(errno)}";
        return ReadOutcome.Failed;
    }

    private static ReadOutcome TooLarge(string path, long maxBytes, bool table, ref string? error)
    {
        error = table ? $"cannot open {path}: file larger than {maxBytes} bytes" : $"{path}: larger than {maxBytes} bytes";
        return table ? ReadOutcome.Failed : ReadOutcome.Refused;
    }

    // A regular file is read into a buffer of its size (a small table costs no large buffer);
    // one that grows meanwhile goes on in chunks, up to one byte past the bound.
    private static byte[] ReadBounded(SafeFileHandle handle, int size, long maxBytes)
    {
        var data = new byte[size];
        var total = 0;
        int n;
        while (total < data.Length && (n = RandomAccess.Read(handle, data.AsSpan(total), total)) > 0)
            total += n;
        // AsSpan().ToArray(), not data[..total]: an array's range goes through RuntimeHelpers.GetSubArray, which
        // brings the runtime's type loader into giftwrap-tcpd (docs/benchmarks.md, issue 16).
        if (total < data.Length)
            return data.AsSpan(0, total).ToArray();
        // Still more than stat(2) said (a file being written): the rest in chunks. The probe is on the
        // stack because nearly always it finds the end; a chunk buffer is 80 KB of memory to clear.
        Span<byte> probe = stackalloc byte[256];
        n = RandomAccess.Read(handle, probe, total);
        if (n == 0)
            return data;
        using var ms = new MemoryStream();
        ms.Write(data);
        ms.Write(probe[..n]);
        total += n;
        var buffer = new byte[81920];
        n = RandomAccess.Read(handle, buffer, total);
        long offset = total;
        while (n > 0)
        {
            ms.Write(buffer, 0, n);
            offset += n;
            if (ms.Length > maxBytes)
                break;
            n = RandomAccess.Read(handle, buffer, offset);
        }
        return ms.ToArray();
    }

    /// <summary>stat(2) through statx(2), whose layout is the same on every architecture. Returns errno, or 0.</summary>
    private static int Stat(int dirfd, string path, int flags, out int mode, out long size)
    {
        var errno = Statx.Get(dirfd, path, flags, Statx.Type | Statx.SizeBit, out var buf);
        mode = buf.Mode;
        size = buf.FileSize;
        return errno;
    }

    // Elsewhere than Linux: .NET's own open (no FIFO guard there), with the same bounds.
    private static ReadOutcome TryReadPortable(string path, ref byte[] data, ref string? error, bool table, long maxBytes, bool cut)
    {
        try
        {
            if (Directory.Exists(path))
                return Refuse(path, Libc.SIfDir, table, ref error)!.Value;
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return ReadOpened(handle, RandomAccess.GetLength(handle), path, ref data, ref error, table, maxBytes, cut);
        }
        catch (FileNotFoundException)
        {
            return ReadOutcome.Missing;
        }
        catch (DirectoryNotFoundException)
        {
            return ReadOutcome.Missing;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            // Any other reason the file cannot be opened: libwrap's "cannot open %s: %m".
            error = $"cannot open {path}: {ex.Message}";
            return ReadOutcome.Failed;
        }
    }
}
