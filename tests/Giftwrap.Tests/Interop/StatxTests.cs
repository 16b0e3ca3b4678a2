// struct statx as Giftwrap reads it (one definition for the table reader and the ban store): the
// kernel's offsets, the same on every architecture, and values that agree with stat(1) on real files.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Giftwrap.Interop;

namespace Giftwrap.Tests.Interop;

public sealed class StatxTests
{
    [Fact]
    public void Layout_IsTheKernels()
    {
        Assert.Equal(256, Unsafe.SizeOf<StatxBuffer>());
        Assert.Equal(0, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Mask)));
        Assert.Equal(20, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Uid)));
        Assert.Equal(24, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Gid)));
        Assert.Equal(28, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Mode)));
        Assert.Equal(32, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.Inode)));
        Assert.Equal(40, (int)Marshal.OffsetOf<StatxBuffer>(nameof(StatxBuffer.FileSize)));
        Assert.Null(Statx.Describe<StatxBuffer>(Statx.Size, Statx.KernelOffsets));
        Assert.Null(Statx.LayoutError());
    }

    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct Misplaced
    {
        [FieldOffset(0)] public uint Mask;
        [FieldOffset(24)] public uint Uid;
    }

    [Fact]
    public void Describe_NamesAWrongOffsetOrSize()
    {
        Assert.Equal("Misplaced.Uid is at offset 24, the kernel's at 20", Statx.Describe<Misplaced>(256, [("Mask", 0), ("Uid", 20)]));
        Assert.Equal("Misplaced is 256 bytes, the kernel's is 144", Statx.Describe<Misplaced>(144, []));
    }

    [Fact]
    public void Values_AgreeWithStat1()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-statx-");
        try
        {
            var file = Path.Combine(dir.FullName, "f");
            File.WriteAllBytes(file, new byte[12345]);
            var expected = Run("stat", "-c", "%i %u %g %f %s", file).Trim().Split(' ');
            Assert.Equal(0, Statx.Get(Libc.AtFdCwd, file, 0, Statx.Type | Statx.ModeBits | Statx.UidBit | Statx.GidBit | Statx.InodeBit | Statx.SizeBit, out var buf));
            Assert.Equal(ulong.Parse(expected[0]), buf.Inode);
            Assert.Equal(uint.Parse(expected[1]), buf.Uid);
            Assert.Equal(uint.Parse(expected[2]), buf.Gid);
            Assert.Equal(Convert.ToInt32(expected[3], 16), buf.Mode);
            Assert.Equal(12345, buf.FileSize);

            // fstat's way: statx(fd, "", AT_EMPTY_PATH).
            using var handle = File.OpenHandle(file);
            Assert.Equal(0, Statx.Get((int)handle.DangerousGetHandle(), Statx.InodeBit | Statx.SizeBit, out var byFd));
            Assert.Equal(buf.Inode, byFd.Inode);
            Assert.Equal(12345, byFd.FileSize);

            Assert.Equal(2, Statx.Get(Libc.AtFdCwd, Path.Combine(dir.FullName, "missing"), 0, Statx.InodeBit, out _)); // ENOENT
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string Run(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000));
        Assert.Equal(0, p.ExitCode);
        return output;
    }
}
