// Reading a table or pattern file the way fopen()/fgets() would see it: a missing
// file is empty, a directory reads as empty, anything else that cannot be opened is
// an error (libwrap: "cannot open"). Sizes are bounded so a hostile file cannot
// exhaust memory; past the bound the file counts as unreadable (fail closed).
namespace Giftwrap.Tables;

internal enum ReadOutcome
{
    Read,
    Missing,
    Failed,
}

internal static class TableFile
{
    /// <summary>The largest table or pattern file read (a 1,000,000-rule hosts.deny is about 20 MB).</summary>
    public const long MaxBytes = 256L * 1024 * 1024;

    public static ReadOutcome TryRead(string path, out byte[] data, out string? error)
    {
        data = [];
        error = null;
        try
        {
            if (Directory.Exists(path))
                return ReadOutcome.Read;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            if (stream.CanSeek && stream.Length > MaxBytes)
            {
                error = $"cannot open {path}: file larger than {MaxBytes} bytes";
                return ReadOutcome.Failed;
            }
            data = ReadBounded(stream);
            if (data.Length > MaxBytes)
            {
                data = [];
                error = $"cannot open {path}: file larger than {MaxBytes} bytes";
                return ReadOutcome.Failed;
            }
            return ReadOutcome.Read;
        }
        catch (FileNotFoundException)
        {
            return ReadOutcome.Missing;
        }
        catch (DirectoryNotFoundException) when (!AncestorIsFile(path))
        {
            // ENOENT on a parent directory: still "no such file", an empty table.
            return ReadOutcome.Missing;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            // Any other reason the file cannot be opened: libwrap's "cannot open %s: %m".
            error = $"cannot open {path}: {ex.Message}";
            return ReadOutcome.Failed;
        }
    }

    private static byte[] ReadBounded(FileStream stream)
    {
        // A regular file is read into a buffer of its size (a small table costs no large buffer);
        // one that grows meanwhile, or has no size, goes on through the copy loop.
        var data = new byte[stream.CanSeek ? stream.Length : 0];
        var total = 0;
        int n;
        while (total < data.Length && (n = stream.Read(data, total, data.Length - total)) > 0)
            total += n;
        if (total < data.Length)
            return data[..total];
        Span<byte> probe = stackalloc byte[1];
        if (stream.Read(probe) == 0)
            return data;
        using var ms = new MemoryStream();
        ms.Write(data);
        ms.Write(probe);
        var buffer = new byte[81920];
        while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
        {
            ms.Write(buffer, 0, n);
            if (ms.Length > MaxBytes)
                break;
        }
        return ms.ToArray();
    }

    // ENOTDIR: a path component is a regular file. fopen() fails with something other than ENOENT.
    private static bool AncestorIsFile(string path)
    {
        var dir = System.IO.Path.GetDirectoryName(path);
        while (!string.IsNullOrEmpty(dir))
        {
            if (File.Exists(dir))
                return true;
            dir = System.IO.Path.GetDirectoryName(dir);
        }
        return false;
    }
}
