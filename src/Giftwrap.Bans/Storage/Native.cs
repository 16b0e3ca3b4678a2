// The few POSIX calls .NET does not offer (flock is in StoreLock): fsync(2) on files and directories (a rename is durable only once its
// directory is), and stat(2)'s inode and owner, to see a file replaced under us and
// to keep hosts.deny's owner when it is rewritten. Linux only (x86-64 and arm64 stat layouts).
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Giftwrap.Bans.Storage;

internal static partial class Native
{
    public static void FsyncOrThrow(SafeFileHandle handle, string path)
    {
        if (fsync((int)handle.DangerousGetHandle()) != 0)
            throw new IOException($"{path}: fsync failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>Makes the directory entry of a just-renamed file durable.</summary>
    public static void FsyncDirectory(string directory)
    {
        var fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
            throw new IOException($"{directory}: cannot open to fsync (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (fsync(fd) != 0)
                throw new IOException($"{directory}: fsync failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>The inode number of <paramref name="path"/>, or 0 when it cannot be read.</summary>
    public static unsafe ulong Inode(string path)
    {
        var buf = stackalloc byte[256];
        return stat(path, buf) == 0 ? *(ulong*)(buf + 8) : 0;
    }

    /// <summary>The inode number of an open file, or 0.</summary>
    public static unsafe ulong Inode(SafeFileHandle handle)
    {
        var buf = stackalloc byte[256];
        return fstat((int)handle.DangerousGetHandle(), buf) == 0 ? *(ulong*)(buf + 8) : 0;
    }

    /// <summary>Owner and group of <paramref name="path"/>; null when unknown (or on an architecture whose stat layout is not known here).</summary>
    public static unsafe (uint Uid, uint Gid)? Owner(string path)
    {
        var offset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 28,
            Architecture.Arm64 => 24,
            _ => -1,
        };
        var buf = stackalloc byte[256];
        if (offset < 0 || stat(path, buf) != 0)
            return null;
        return (*(uint*)(buf + offset), *(uint*)(buf + offset + 4));
    }

    public static void SetOwner(SafeFileHandle handle, uint uid, uint gid) =>
        _ = fchown((int)handle.DangerousGetHandle(), uid, gid);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int stat(string path, byte* buf);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static unsafe partial int fstat(int fd, byte* buf);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int fchown(int fd, uint uid, uint gid);
}
