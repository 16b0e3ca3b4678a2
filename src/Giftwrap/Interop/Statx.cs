// statx(2): the one way Giftwrap asks the kernel about a file (type, mode, owner, device, inode, size).
// Why statx and not stat/fstat: glibc exports `stat` and `fstat` as symbols only from 2.33 (before,
// they are inline wrappers over __xstat), so a P/Invoke of them fails on Debian 11 and RHEL 8;
// statx is exported from glibc 2.28. Its struct is laid out with explicit sizes
// (include/uapi/linux/stat.h), the same on every architecture, unlike struct stat. The offsets
// live here and nowhere else; callers read the fields of StatxBuffer.
using System.Runtime.InteropServices;

namespace Giftwrap.Interop;

/// <summary>struct statx, the fields Giftwrap reads, at the kernel's offsets (256 bytes in all).</summary>
[StructLayout(LayoutKind.Explicit, Size = Statx.Size)]
internal struct StatxBuffer
{
    /// <summary>stx_mask: which of the asked fields the kernel filled.</summary>
    [FieldOffset(0)] public uint Mask;
    [FieldOffset(20)] public uint Uid;
    [FieldOffset(24)] public uint Gid;
    [FieldOffset(28)] public ushort Mode;
    [FieldOffset(32)] public ulong Inode;
    [FieldOffset(40)] public long FileSize;
    /// <summary>stx_dev_major and stx_dev_minor: the device the file lives on (always filled, no mask bit).</summary>
    [FieldOffset(136)] public uint DevMajor;
    [FieldOffset(140)] public uint DevMinor;

    /// <summary>st_dev as stat(2) gives it in user space: glibc's makedev(3) of the two halves (sys/sysmacros.h).</summary>
    public readonly ulong Device =>
        ((ulong)(DevMajor & 0xfff) << 8) | ((ulong)(DevMajor & 0xfffff000) << 32) | (DevMinor & 0xff) | ((ulong)(DevMinor & 0xffffff00) << 12);
}

internal static unsafe class Statx
{
    public const int Size = 256;
    public const uint Type = 0x1, ModeBits = 0x2, UidBit = 0x8, GidBit = 0x10, InodeBit = 0x100, SizeBit = 0x200;

    /// <summary>The kernel's offsets, as (field, offset): what <see cref="StatxBuffer"/> must agree with.</summary>
    public static readonly (string Field, int Offset)[] KernelOffsets =
    [
        ("Mask", 0), ("Uid", 20), ("Gid", 24), ("Mode", 28), ("Inode", 32), ("FileSize", 40), ("DevMajor", 136), ("DevMinor", 140),
    ];

    private static readonly Lazy<string?> LazyLayoutError = new(CheckLayout);

    /// <summary>statx(2) of <paramref name="path"/> relative to <paramref name="dirfd"/>. Returns errno, or 0.</summary>
    public static int Get(int dirfd, string path, int flags, uint mask, out StatxBuffer buffer)
    {
        buffer = default;
        fixed (StatxBuffer* p = &buffer)
            return Libc.statx(dirfd, path, flags, mask, p) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>stat(2) of <paramref name="path"/> (relative to the working directory), following links. Returns errno, or 0.</summary>
    public static int Get(string path, uint mask, out StatxBuffer buffer) => Get(Libc.AtFdCwd, path, 0, mask, out buffer);

    /// <summary>fstat(2) through statx(fd, "", AT_EMPTY_PATH). Returns errno, or 0.</summary>
    public static int Get(int fd, uint mask, out StatxBuffer buffer) => Get(fd, "", Libc.AtEmptyPath, mask, out buffer);

    /// <summary>
    /// Null when the layout assumed here matches the running process and kernel, else one line saying why not:
    /// the struct's size and offsets, then a statx of "/" that must say "a directory, inode known".
    /// Computed once.
    /// </summary>
    public static string? LayoutError() => LazyLayoutError.Value;

    private static string? CheckLayout()
    {
        var error = Describe<StatxBuffer>(Size, KernelOffsets);
        if (error is null)
        {
            var errno = Get(Libc.AtFdCwd, "/", 0, Type | ModeBits | InodeBit, out var root);
            if (errno != 0)
                error = $"statx(\"/\") failed: {Marshal.GetPInvokeErrorMessage(errno)}";
            else if ((root.Mode & Libc.SIfMt) != Libc.SIfDir || root.Inode == 0)
                error = $"statx(\"/\") did not read back as a directory (mode {root.Mode:x}, mask {root.Mask:x}): the struct statx layout assumed here is wrong";
        }
        return error;
    }

    /// <summary>Throws PlatformNotSupportedException with one line when <see cref="LayoutError"/> has something to say.</summary>
    public static void EnsureLayout()
    {
        if (LayoutError() is { } error)
            throw new PlatformNotSupportedException($"{error} ({RuntimeInformation.ProcessArchitecture}); not using it rather than misreading memory");
    }

    /// <summary>Null when <typeparamref name="T"/> has <paramref name="size"/> bytes and the field offsets named, else what differs.</summary>
    public static string? Describe<T>(int size, IEnumerable<(string Field, int Offset)> offsets)
        where T : unmanaged
    {
        if (sizeof(T) != size)
            return $"{typeof(T).Name} is {sizeof(T)} bytes, the kernel's is {size}";
        foreach (var (field, offset) in offsets)
        {
            var actual = (int)Marshal.OffsetOf<T>(field);
            if (actual != offset)
                return $"{typeof(T).Name}.{field} is at offset {actual}, the kernel's at {offset}";
        }
        return null;
    }
}
