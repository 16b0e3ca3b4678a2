// The core's one doorway into the C library: every P/Invoke the core makes (table files, their
// inotify watcher, statx, the user/group/netgroup databases) and the constants they take, each
// under its C header's name in PascalCase. Linux (glibc) on 64-bit only, the platforms Giftwrap
// ships for; the values below are the same on x86-64 and arm64 (asm-generic). Other assemblies
// that need libc have their own Interop/Libc.cs (one per assembly, not one source-linked file:
// each needs a different handful of calls, and a linked internal type would clash with this one
// in the assemblies that see the core's internals). Struct layouts live beside it (Statx.cs,
// InotifyEvent) with their sizes asserted by tests.
using System.Runtime.InteropServices;

namespace Giftwrap.Interop;

internal static unsafe partial class Libc
{
    private const string Library = "libc.so.6";

    // errno.h
    public const int ENoEnt = 2;

    // fcntl.h
    public const int ORdOnly = 0;
    public const int ONoCtty = 0x100;
    public const int ONonBlock = 0x800;
    public const int OCloExec = 0x80000;
    public const int AtFdCwd = -100;
    public const int AtEmptyPath = 0x1000;

    // sys/stat.h: the file type bits of st_mode / stx_mode.
    public const int SIfMt = 0xF000;
    public const int SIfIfo = 0x1000;
    public const int SIfChr = 0x2000;
    public const int SIfDir = 0x4000;
    public const int SIfBlk = 0x6000;
    public const int SIfReg = 0x8000;
    public const int SIfSock = 0xC000;

    // sys/inotify.h
    public const int InNonBlock = ONonBlock;
    public const int InCloExec = OCloExec;
    public const uint InModify = 0x2, InAttrib = 0x4, InCloseWrite = 0x8, InMovedFrom = 0x40, InMovedTo = 0x80,
        InCreate = 0x100, InDelete = 0x200, InDeleteSelf = 0x400, InMoveSelf = 0x800, InQOverflow = 0x4000, InIgnored = 0x8000;

    // asm-generic/ioctls.h: the same number on x86-64 and arm64.
    public const nuint FionRead = 0x541B;

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags);

    [LibraryImport(Library, SetLastError = true)]
    public static partial nint read(int fd, byte* buf, nuint count);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int ioctl(int fd, nuint request, int* arg);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int inotify_init1(int flags);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int inotify_add_watch(int fd, string path, uint mask);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int inotify_rm_watch(int fd, int wd);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int statx(int dirfd, string path, int flags, uint mask, StatxBuffer* buf);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint getpwnam(string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint getgrnam(string name);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int innetgr(string netgroup, string? host, string? user, string? domain);
}

/// <summary>struct inotify_event's fixed part (sys/inotify.h): 16 bytes, then <see cref="Len"/> bytes of NUL-padded name.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct InotifyEvent
{
    public int Wd;
    public uint Mask;
    public uint Cookie;
    public uint Len;
}
