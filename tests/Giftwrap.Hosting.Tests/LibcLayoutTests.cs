// The sizes and constants Interop/Libc declares, checked against the C compiler's view of this
// machine's glibc headers: run on each architecture the package ships for (x86_64, aarch64), a
// header that changes a structure fails here instead of corrupting memory in posix_spawn.
using System.Diagnostics;
using Giftwrap.Hosting.Interop;

namespace Giftwrap.Hosting.Tests;

public sealed class LibcLayoutTests
{
    private const string Program = """
        #include <spawn.h>
        #include <signal.h>
        #include <stdio.h>
        #include <stddef.h>
        #include <pwd.h>
        #include <fcntl.h>
        #include <errno.h>
        #include <sys/wait.h>
        #include <sys/socket.h>
        int main(void) {
            printf("%zu %zu %zu %zu %zu %d %d %d %d %d %d %d %d %d\n",
                sizeof(posix_spawn_file_actions_t), sizeof(posix_spawnattr_t), sizeof(sigset_t),
                offsetof(struct passwd, pw_gid), sizeof(struct linger),
                SOL_SOCKET, SO_LINGER, O_RDWR, WNOHANG, ECHILD,
                POSIX_SPAWN_SETSIGDEF, POSIX_SPAWN_SETSIGMASK, POSIX_SPAWN_SETPGROUP, 0);
            return 0;
        }
        """;

    [Fact]
    public void Libc_SizesAndConstants_MatchTheHeaders()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-libc-");
        try
        {
            var source = Path.Combine(dir.FullName, "layout.c");
            var binary = Path.Combine(dir.FullName, "layout");
            File.WriteAllText(source, "#define _GNU_SOURCE\n" + Program);
            Run("cc", "-o", binary, source);
            var values = Run(binary).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            Assert.Equal(
                [Libc.SpawnFileActionsSize, Libc.SpawnAttrSize, Libc.SigSetSize, Libc.PasswdGidOffset, Libc.LingerSize,
                 Libc.SolSocket, Libc.SoLinger, Libc.ORdWr, Libc.WNoHang, Libc.EChild,
                 Libc.PosixSpawnSetSigDef, Libc.PosixSpawnSetSigMask, Libc.PosixSpawnSetPGroup, 0],
                values);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private static string Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        var output = p.StandardOutput.ReadToEnd();
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} failed: {error}");
        return output.Trim();
    }
}
