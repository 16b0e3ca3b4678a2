// Starts the programs a decision asks for (spawn, twist, aclexec, an exec service)
// with posix_spawn(): the client socket or /dev/null on descriptors 0, 1 and 2,
// the signal mask and ignored signals the process was started with (SIGPIPE, which
// the runtime ignores, back to its default), and the process
// state the rule's options built up (environment, umask, nice, user, group) applied
// through small standard wrappers (sh for umask, nice, setpriv). Never forks the
// runtime. Reaping is left to ChildReaper, the libc calls to Interop/Libc.
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using Giftwrap.Hosting.Interop;

namespace Giftwrap.Hosting;

internal static unsafe class ProcessLauncher
{
    public static readonly string Shell = "/bin/sh";
    private static readonly string NiceTool = Find("nice");
    private static readonly string NohupTool = Find("nohup");
    private static readonly string SetprivTool = Find("setpriv");

    // Read once, at the first program (63 sigaction calls), not at every one: nothing in the process ignores a
    // signal later, and the runtime's own SIGPIPE is left out.
    private static readonly ulong IgnoredAtStart = ReadIgnored();

    /// <summary>
    /// argv for `/bin/sh -c command sh`: the command sees $0 = "sh" and no arguments, as under libwrap's
    /// execl("/bin/sh", "sh", "-c", command) (shell_cmd.c, options.c), while argv[0] stays the path spawned.
    /// </summary>
    public static string[] ShellCommand(string command) => [Shell, "-c", command, "sh"];

    /// <summary>
    /// A spawn's argv: shell_cmd.c's do_child() sets SIGHUP to SIG_IGN before it runs the shell ("POSIX sessions
    /// may send a SIGHUP to grandchildren if the child exits first"), which posix_spawn() cannot do: nohup does
    /// it (its descriptors are /dev/null, no terminal, so it redirects nothing). Twist and aclexec keep SIGHUP.
    /// </summary>
    public static string[] SpawnCommand(string command) => [NohupTool, "--", Shell, "-c", command, "sh"];

    /// <summary>
    /// Starts <paramref name="argv"/>. <paramref name="stdio"/> is the descriptor for 0, 1 and 2
    /// (-1 for /dev/null). Returns the pid, or throws <see cref="IOException"/> with errno's text.
    /// </summary>
    public static int Start(string[] argv, ProcessState state, int stdio)
    {
        var full = Wrap(argv, state);
        var env = BuildEnvironment(state.Environment);
        var fa = NativeMemory.AllocZeroed(Libc.SpawnFileActionsSize);
        var attr = NativeMemory.AllocZeroed(Libc.SpawnAttrSize);
        var sigset = (byte*)NativeMemory.AllocZeroed(Libc.SigSetSize);
        var argvp = ToCStrings(full);
        var envp = ToCStrings(env);
        try
        {
            Check(Libc.posix_spawn_file_actions_init(fa));
            if (stdio < 0)
            {
                Check(Libc.posix_spawn_file_actions_addopen(fa, 0, "/dev/null", Libc.ORdWr, 0));
                Check(Libc.posix_spawn_file_actions_adddup2(fa, 0, 1));
                Check(Libc.posix_spawn_file_actions_adddup2(fa, 0, 2));
            }
            else
            {
                Check(Libc.posix_spawn_file_actions_adddup2(fa, stdio, 0));
                Check(Libc.posix_spawn_file_actions_adddup2(fa, stdio, 1));
                Check(Libc.posix_spawn_file_actions_adddup2(fa, stdio, 2));
            }
            Check(Libc.posix_spawnattr_init(attr));
            // The program starts as libwrap's fork() leaves it: this thread's mask (the one the process was
            // started with), and the dispositions it was started with.
            Check(Libc.sigprocmask(Libc.SigBlock, null, sigset));
            Check(Libc.posix_spawnattr_setsigmask(attr, sigset));
            InheritedDefaults(sigset);
            Check(Libc.posix_spawnattr_setsigdefault(attr, sigset));
            // A process group of its own (pgid = the child's pid), so that [actions] limits can count a
            // program with its background jobs (ProgramLimits), but serve's session: a session of its own
            // (setsid) would also put every child in a scheduler autogroup of its own, and under load those
            // children waited 5-10x their median to run (issue 16, docs/benchmarks.md).
            Check(Libc.posix_spawnattr_setpgroup(attr, 0));
            Check(Libc.posix_spawnattr_setflags(attr, Libc.PosixSpawnSetSigDef | Libc.PosixSpawnSetSigMask | Libc.PosixSpawnSetPGroup));
            int pid;
            var rc = Libc.posix_spawn(&pid, full[0], fa, attr, argvp, envp);
            if (rc != 0)
                throw new IOException($"cannot start {full[0]}: {Marshal.GetPInvokeErrorMessage(rc)}");
            return pid;
        }
        finally
        {
            _ = Libc.posix_spawn_file_actions_destroy(fa);
            _ = Libc.posix_spawnattr_destroy(attr);
            NativeMemory.Free(fa);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            FreeCStrings(argvp);
            FreeCStrings(envp);
        }
    }

    /// <summary>
    /// The signals to set back to SIG_DFL: every one (glibc's internal 32 and 33 too, which sigfillset() leaves
    /// out and posix_spawn() would then ignore) but those ignored since the process started, which the program
    /// inherits as a forked child would. SIGPIPE is always set back: the runtime ignores it itself, and inetd
    /// starts its programs with it at its default.
    /// </summary>
    private static void InheritedDefaults(byte* set)
    {
        new Span<byte>(set, Libc.SigSetSize).Fill(0xFF);
        for (var sig = 1; sig <= Libc.LastSignal; sig++)
        {
            if ((IgnoredAtStart & (1UL << (sig - 1))) != 0)
                _ = Libc.sigdelset(set, sig);
        }
    }

    private static ulong ReadIgnored()
    {
        var ignored = 0UL;
        var action = stackalloc byte[Libc.SigActionSize];
        for (var sig = 1; sig <= Libc.LastSignal; sig++)
        {
            if (sig != Libc.SigPipe && Libc.sigaction(sig, null, action) == 0 && *(nint*)action == Libc.SigIgn)
                ignored |= 1UL << (sig - 1);
        }
        return ignored;
    }

    /// <summary>Applies umask, nice, user and group with standard tools around the program.</summary>
    internal static string[] Wrap(string[] argv, ProcessState state)
    {
        // Each tool goes in front of what it runs. A list, not spreads of an IEnumerable: those compile to LINQ,
        // whose generic iterators cost giftwrap-tcpd's start (docs/benchmarks.md, issue 16).
        var result = new List<string>(argv);
        if (state.Umask is { } mask)
            result.InsertRange(0, (string[])[Shell, "-c", $"umask {Convert.ToString(mask, 8)} && exec \"$0\" \"$@\""]);
        if (state.User is not null || state.Group is not null)
        {
            var priv = new List<string> { SetprivTool };
            if (state.User is { } user)
            {
                priv.Add($"--reuid={user}");
                priv.Add($"--regid={state.Group ?? PrimaryGroup(user)}");
                priv.Add("--init-groups");
            }
            else
            {
                priv.Add($"--regid={state.Group}");
                priv.Add("--keep-groups");
            }
            priv.Add("--");
            result.InsertRange(0, priv);
        }
        if (state.Nice is { } nice)
            result.InsertRange(0, (string[])[NiceTool, "-n", nice.ToString(System.Globalization.CultureInfo.InvariantCulture), "--"]);
        return [.. result];
    }

    private static string PrimaryGroup(string user)
    {
        var pw = Libc.getpwnam(user);
        if (pw == 0)
            return user;
        var gid = Marshal.ReadInt32(pw, Libc.PasswdGidOffset);
        return gid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The process's environment with <paramref name="overrides"/> set (setenv options), as NAME=value strings for execve.</summary>
    public static string[] BuildEnvironment(IReadOnlyDictionary<string, string> overrides)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in System.Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value ?? "";
        foreach (var (k, v) in overrides)
            env[k] = v;
        var variables = new string[env.Count];
        var i = 0;
        foreach (var (k, v) in env)
            variables[i++] = $"{k}={v}";
        return variables;
    }

    private static string Find(string tool)
    {
        foreach (var dir in new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" })
        {
            var p = Path.Combine(dir, tool);
            if (File.Exists(p))
                return p;
        }
        return tool;
    }

    private static void Check(int rc)
    {
        if (rc != 0)
            throw new IOException($"posix_spawn setup failed: {Marshal.GetPInvokeErrorMessage(rc)}");
    }

    private static byte** ToCStrings(string[] items)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(items.Length + 1), (nuint)sizeof(byte*));
        for (var i = 0; i < items.Length; i++)
            array[i] = Utf8StringMarshaller.ConvertToUnmanaged(items[i]);
        return array;
    }

    private static void FreeCStrings(byte** array)
    {
        for (var p = array; *p != null; p++)
            Utf8StringMarshaller.Free(*p);
        NativeMemory.Free(array);
    }
}
