// Every libc call of Giftwrap.Hosting, with its constants and the sizes of the structures it
// allocates, said once here (glibc on Linux, x86_64 and aarch64 alike). The sizes are asserted
// against the C compiler's sizeof() by a test on each architecture (LibcLayoutTests). What the calls
// are for is left to ProcessLauncher and ChildReaper.
using System.Runtime.InteropServices;

namespace Giftwrap.Hosting.Interop;

internal static unsafe partial class Libc
{
    private const string Library = "libc.so.6";

    /// <summary>sizeof(posix_spawn_file_actions_t): two ints, a pointer, int __pad[16].</summary>
    public const int SpawnFileActionsSize = 80;

    /// <summary>sizeof(posix_spawnattr_t): flags, pgroup, two sigset_t, sched_param, policy, int __pad[16].</summary>
    public const int SpawnAttrSize = 336;

    /// <summary>sizeof(sigset_t): glibc's 1,024 signal bits.</summary>
    public const int SigSetSize = 128;

    /// <summary>At least sizeof(struct sigaction) (152 on x86_64 and aarch64); its sa_handler comes first.</summary>
    public const int SigActionSize = 256;

    /// <summary>SIG_IGN, as sa_handler holds it.</summary>
    public const nint SigIgn = 1;

    public const int SigBlock = 0;
    public const int SigHup = 1;
    public const int SigPipe = 13;

    /// <summary>The signals a disposition is kept for (_NSIG - 1: 1 to 64).</summary>
    public const int LastSignal = 64;

    /// <summary>offsetof(struct passwd, pw_gid): after pw_name, pw_passwd and pw_uid.</summary>
    public static readonly int PasswdGidOffset = 2 * IntPtr.Size + sizeof(uint);

    /// <summary>sizeof(struct linger): int l_onoff, int l_linger.</summary>
    public const int LingerSize = 8;

    public const int SolSocket = 1;
    public const int SoLinger = 13;
    public const int ORdWr = 2;
    public const int WNoHang = 1;
    public const int EChild = 10;
    public const short PosixSpawnSetSigDef = 0x04;
    public const short PosixSpawnSetSigMask = 0x08;
    public const short PosixSpawnSetPGroup = 0x02;

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int posix_spawn(int* pid, string path, void* fileActions, void* attr, byte** argv, byte** envp);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_init(void* fa);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_destroy(void* fa);

    [LibraryImport(Library)]
    public static partial int posix_spawn_file_actions_adddup2(void* fa, int fd, int newfd);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int posix_spawn_file_actions_addopen(void* fa, int fd, string path, int oflag, int mode);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_init(void* attr);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_destroy(void* attr);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setflags(void* attr, short flags);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setpgroup(void* attr, int pgroup);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setsigmask(void* attr, void* set);

    [LibraryImport(Library)]
    public static partial int posix_spawnattr_setsigdefault(void* attr, void* set);

    [LibraryImport(Library)]
    public static partial int sigemptyset(void* set);

    [LibraryImport(Library)]
    public static partial int sigfillset(void* set);

    [LibraryImport(Library)]
    public static partial int sigdelset(void* set, int signal);

    /// <summary>sigaction(2) with a null new action reads a disposition; <paramref name="old"/> needs SigActionSize bytes.</summary>
    [LibraryImport(Library)]
    public static partial int sigaction(int signal, void* act, void* old);

    /// <summary>sigprocmask(2): the calling thread's mask on Linux (pthread_sigmask's default version is GLIBC_2.32).</summary>
    [LibraryImport(Library)]
    public static partial int sigprocmask(int how, void* set, void* old);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial nint getpwnam(string name);

    [LibraryImport(Library, SetLastError = true)]
    public static partial int getpriority(int which, int who);

    [LibraryImport(Library)]
    public static partial uint geteuid();

    [LibraryImport(Library, SetLastError = true)]
    public static partial int waitpid(int pid, int* status, int options);
}
