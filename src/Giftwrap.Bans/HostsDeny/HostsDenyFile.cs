// Keeps a marked block of a hosts.deny file in step with the ban list, for daemons still
// linked with libwrap. Only the bytes between "# BEGIN giftwrap bans" and "# END giftwrap
// bans" are ours; every other byte is copied as it was. The file is replaced atomically
// (temp file in the same directory, mode and owner copied, fsync, rename; through a symlink, the
// file it names is replaced and the link kept). Another writer
// appending at the same time (Fail2ban's hostsdeny action, an editor) is not lost: the
// file is compared again just before the rename and the work redone if it changed, and
// bytes that still reached the old file after the rename are carried over (LateAppends).
using System.Text;
using Giftwrap.Bans.Storage;

namespace Giftwrap.Bans.HostsDeny;

/// <summary>The giftwrap block of hosts.deny.</summary>
public static class HostsDenyFile
{
    public const string BeginMarker = "# BEGIN giftwrap bans";
    public const string EndMarker = "# END giftwrap bans";

    /// <summary>The block for these bans: one "daemon_list: client" rule per ban, IPv6 in brackets.</summary>
    public static byte[] Render(IEnumerable<BanEntry> active)
    {
        ArgumentNullException.ThrowIfNull(active);
        var sb = new StringBuilder();
        sb.Append(BeginMarker).Append('\n');
        sb.Append("# Written by giftwrap ban/unban: changes made here are overwritten.\n");
        foreach (var e in active)
            sb.Append(e.Daemons is null ? "ALL" : string.Join(", ", e.Daemons)).Append(": ").Append(e.Target.ToHostsPattern()).Append('\n');
        sb.Append(EndMarker).Append('\n');
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>
    /// <paramref name="original"/> with its block replaced by <paramref name="block"/> (appended when it has none);
    /// null when the file has a BEGIN marker without an END: a damaged block is not ours to guess at.
    /// </summary>
    public static byte[]? Replace(byte[] original, byte[] block)
    {
        ArgumentNullException.ThrowIfNull(original);
        ArgumentNullException.ThrowIfNull(block);
        var begin = FindLine(original, BeginMarker, 0);
        if (begin < 0)
        {
            var needsNewline = original.Length > 0 && original[^1] != (byte)'\n';
            return [.. original, .. needsNewline ? "\n"u8.ToArray() : [], .. block];
        }
        var end = FindLine(original, EndMarker, begin);
        if (end < 0)
            return null;
        var afterEnd = Array.IndexOf(original, (byte)'\n', end);
        afterEnd = afterEnd < 0 ? original.Length : afterEnd + 1;
        return [.. original.AsSpan(0, begin), .. block, .. original.AsSpan(afterEnd)];
    }

    /// <summary>Brings the file's block in step; returns a problem to report, or null when done.</summary>
    public static string? Sync(string path, byte[] block)
    {
        ArgumentNullException.ThrowIfNull(path);
        // What late appenders wrote to the files replaced before comes first: their lines are older.
        var late = LateAppends.CarryOver();
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                var outcome = TrySync(path, block);
                if (outcome != Outcome.Changed)
                    return outcome == Outcome.Damaged ? $"has \"{BeginMarker}\" without \"{EndMarker}\": the block was left alone" : late;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return $"cannot update the giftwrap block: {ex.Message}";
            }
        }
        return "kept changing while the giftwrap block was written: gave up after 20 tries";
    }

    private enum Outcome
    {
        Done,
        Changed,
        Damaged,
    }

    private static Outcome TrySync(string path, byte[] block)
    {
        var full = Native.FileBehind(path);
        var dir = Path.GetDirectoryName(full)!;
        var old = File.Exists(full) ? File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete) : null;
        try
        {
            var original = old is null ? [] : ReadAll(old);
            var updated = Replace(original, block);
            if (updated is null)
                return Outcome.Damaged;
            if (updated.AsSpan().SequenceEqual(original) && old is not null)
                return Outcome.Done;
            if (!Write(full, dir, old, original, updated))
                return Outcome.Changed;
            if (old is not null)
            {
                // Handed over: an appender that opened the old file before the rename writes there.
                LateAppends.Watch(old, original.Length, full);
                old = null;
            }
            return Outcome.Done;
        }
        finally
        {
            old?.Dispose();
        }
    }

    /// <summary>Writes <paramref name="updated"/> in place of <paramref name="full"/>; false when the file changed since <paramref name="original"/> was read.</summary>
    private static bool Write(string full, string dir, Microsoft.Win32.SafeHandles.SafeFileHandle? old, byte[] original, byte[] updated)
    {
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.giftwrap-{Environment.ProcessId}");
        try
        {
            using (var t = File.OpenHandle(temp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                RandomAccess.Write(t, updated, 0);
                if (old is not null)
                {
                    File.SetUnixFileMode(t, File.GetUnixFileMode(old));
                    if (Native.Owner(full) is { } owner)
                        Native.SetOwner(t, owner.Uid, owner.Gid);
                }
                else
                {
                    File.SetUnixFileMode(t, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
                }
                Native.FsyncOrThrow(t, temp);
            }
            // Compare again just before the rename: another writer's change since our read would be lost.
            if (old is not null ? (Native.Inode(full) != Native.Inode(old) || !ReadAll(old).AsSpan().SequenceEqual(original)) : File.Exists(full))
                return false;
            File.Move(temp, full, overwrite: true);
            Native.FsyncDirectory(dir);
            return true;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    private static byte[] ReadAll(Microsoft.Win32.SafeHandles.SafeFileHandle h)
    {
        var length = RandomAccess.GetLength(h);
        var bytes = new byte[length];
        var read = 0;
        while (read < length)
        {
            var n = RandomAccess.Read(h, bytes.AsSpan(read), read);
            if (n == 0)
                break;
            read += n;
        }
        return read == length ? bytes : bytes[..read];
    }

    /// <summary>The offset of the first line at or after <paramref name="from"/> that starts with <paramref name="marker"/>, or -1.</summary>
    private static int FindLine(byte[] text, string marker, int from)
    {
        var m = Encoding.UTF8.GetBytes(marker);
        for (var i = from; i <= text.Length - m.Length; i++)
        {
            if ((i == 0 || text[i - 1] == (byte)'\n') && text.AsSpan(i, m.Length).SequenceEqual(m))
                return i;
        }
        return -1;
    }
}
