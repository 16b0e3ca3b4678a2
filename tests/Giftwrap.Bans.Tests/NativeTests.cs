// The ban store's inode and owner reads (statx(2), glibc 2.28, where stat/fstat were imported before)
// against stat(1) on real files, through a path, an open handle, and after a replace by rename.
using System.Diagnostics;
using Giftwrap.Bans.Storage;

namespace Giftwrap.Bans.Tests;

public sealed class NativeTests
{
    [Fact]
    public void Inode_ByPathAndByHandle_AgreeWithStat1_AndSeeAReplace()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-native-");
        try
        {
            var file = Path.Combine(dir.FullName, "journal");
            File.WriteAllText(file, "one\n");
            var inode = ulong.Parse(Stat("%i", file));
            Assert.NotEqual(0UL, inode);
            Assert.Equal(inode, Native.Inode(file));
            using (var handle = File.OpenHandle(file))
                Assert.Equal(inode, Native.Inode(handle));

            var next = Path.Combine(dir.FullName, "journal.new");
            File.WriteAllText(next, "two\n");
            File.Move(next, file, overwrite: true);
            Assert.NotEqual(inode, Native.Inode(file));
            Assert.Equal(ulong.Parse(Stat("%i", file)), Native.Inode(file));

            Assert.Equal(0UL, Native.Inode(Path.Combine(dir.FullName, "missing")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Owner_AgreesWithStat1()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-native-");
        try
        {
            var file = Path.Combine(dir.FullName, "hosts.deny");
            File.WriteAllText(file, "");
            // Another owner than the test's, where the test may give one (root in CI).
            if (Environment.UserName == "root")
                Run("chown", "12345:23456", file);
            var expected = Stat("%u %g", file).Split(' ');
            Assert.Equal((uint.Parse(expected[0]), uint.Parse(expected[1])), Native.Owner(file));
            Assert.Null(Native.Owner(Path.Combine(dir.FullName, "missing")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string Stat(string format, string path) => Run("stat", "-c", format, path).Trim();

    private static string Run(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(30_000));
        Assert.Equal(0, p.ExitCode);
        return output;
    }
}
