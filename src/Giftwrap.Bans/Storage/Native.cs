// What the store asks of the system beyond .NET (flock is in StoreLock, the calls in Interop/Libc.cs): fsync(2) on files and directories (a rename is durable only once its
// directory is), and a file's inode and owner (statx(2), see Giftwrap.Interop.Statx: glibc 2.28,
// one layout on every architecture, checked at first use), to see a file replaced under us and
// to keep hosts.deny's owner when it is rewritten, and the file behind a symlink (hosts.deny here,
// a table `giftwrap edit` replaces). Linux only.
using System.Runtime.InteropServices;
using Giftwrap.Bans.Interop;
using Microsoft.Win32.SafeHandles;
using Statx = Giftwrap.Interop.Statx;

namespace Giftwrap.Bans.Storage;

internal static class Native
{
    public static void FsyncOrThrow(SafeFileHandle handle, string path)
    {
        if (Libc.fsync((int)handle.DangerousGetHandle()) != 0)
            throw new IOException($"{path}: fsync failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>Makes the directory entry of a just-renamed file durable.</summary>
    public static void FsyncDirectory(string directory)
    {
        var fd = Libc.open(directory, Libc.ORdOnly, 0);
        if (fd < 0)
            throw new IOException($"{directory}: cannot open to fsync (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Libc.fsync(fd) != 0)
                throw new IOException($"{directory}: fsync failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    /// <summary>The inode number of <paramref name="path"/>, or 0 when it cannot be read.</summary>
    public static ulong Inode(string path)
    {
        Statx.EnsureLayout();
        return Statx.Get(path, Statx.InodeBit, out var buf) == 0 && (buf.Mask & Statx.InodeBit) != 0 ? buf.Inode : 0;
    }

    /// <summary>The inode number of an open file, or 0.</summary>
    public static ulong Inode(SafeFileHandle handle)
    {
        Statx.EnsureLayout();
        return Statx.Get((int)handle.DangerousGetHandle(), Statx.InodeBit, out var buf) == 0 && (buf.Mask & Statx.InodeBit) != 0 ? buf.Inode : 0;
    }

    /// <summary>Owner and group of <paramref name="path"/>; null when unknown.</summary>
    public static (uint Uid, uint Gid)? Owner(string path)
    {
        Statx.EnsureLayout();
        const uint wanted = Statx.UidBit | Statx.GidBit;
        if (Statx.Get(path, wanted, out var buf) != 0 || (buf.Mask & wanted) != wanted)
            return null;
        return (buf.Uid, buf.Gid);
    }

    public static void SetOwner(SafeFileHandle handle, uint uid, uint gid) =>
        _ = Libc.fchown((int)handle.DangerousGetHandle(), uid, gid);

    /// <summary>
    /// The file a file replaced by rename is: through a symlink (a table kept elsewhere by configuration
    /// management) the file it names, so that the link stays; renamed over, the link became a copy and
    /// later edits of the real file no longer reached libwrap. A path that is not a link is itself.
    /// </summary>
    public static string FileBehind(string path)
    {
        var full = Path.GetFullPath(path);
        // Asked of a link only: ResolveLinkTarget throws for a path that is not there yet.
        return new FileInfo(full).LinkTarget is not null && File.ResolveLinkTarget(full, returnFinalTarget: true) is { } target
            ? Path.GetFullPath(target.FullName)
            : full;
    }

}
