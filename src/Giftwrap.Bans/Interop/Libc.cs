// The ban store's doorway into the C library: what .NET does not offer for durable files and
// the writers' lock (fsync, fchown, flock, and open(2) itself: FileStream takes a flock of its
// own). One declaration of each call and constant, named after the C header's; file metadata
// comes from the core's Statx. Linux (glibc), the same values on x86-64 and arm64.
using System.Runtime.InteropServices;

namespace Giftwrap.Bans.Interop;

internal static partial class Libc
{
    private const string Library = "libc.so.6";

    // errno.h
    public const int EIntr = 4;
    public const int EWouldBlock = 11;

    // fcntl.h
    public const int ORdOnly = 0;
    public const int OWrOnly = 1;
    public const int ORdWr = 2;
    public const int OAppend = 0x400;
    public const int OCreat = 0x40;
    public const int OCloExec = 0x80000;

    // sys/file.h
    public const int LockEx = 2;
    public const int LockNb = 4;

    /// <summary>open(2); <paramref name="mode"/> counts only with O_CREAT (glibc reads it then, and ignores it otherwise).</summary>
    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int open(string path, int flags, int mode);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fsync(int fd);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int fchown(int fd, uint uid, uint gid);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int flock(int fd, int operation);
}
