// The last steps of tcpd mode, done on this very process because it is about to
// become the real daemon: umask, nice, group and user changes, then execve() with
// the connection still on descriptors 0, 1 and 2.
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using Giftwrap.Gate.Interop;
using Giftwrap.Hosting;

namespace Giftwrap.Gate.Tcpd;

internal static unsafe class NativeExec
{
    private const int SigPipe = 13;

    /// <summary>Sets this process's file creation mask (inherited by every program it starts).</summary>
    public static void SetUmask(int mask) => _ = Libc.umask(mask);

    /// <summary>Applies <paramref name="state"/> to this process and replaces it by <paramref name="argv"/>; returns only on failure.</summary>
    public static string Exec(string path, string[] argv, ProcessState state)
    {
        if (state.Umask is { } mask)
            _ = Libc.umask(mask);
        if (state.Nice is { } n)
        {
            Marshal.SetLastPInvokeError(0);
            _ = Libc.nice(n);
        }
        if (state.Group is { } group)
        {
            var gr = Libc.getgrnam(group);
            if (gr is null)
                return $"unknown group: \"{group}\"";
            if (Libc.setgid(gr->Gid) != 0)
                return $"setgid({group}): {Marshal.GetLastPInvokeErrorMessage()}";
        }
        if (state.User is { } user)
        {
            var pw = Libc.getpwnam(user);
            if (pw is null)
                return $"unknown user: \"{user}\"";
            var (uid, gid) = (pw->Uid, pw->Gid);
            if (state.Group is null && Libc.setgid(gid) != 0)
                return $"setgid: {Marshal.GetLastPInvokeErrorMessage()}";
            if (Libc.initgroups(user, state.Group is null ? gid : Libc.getegid()) != 0 || Libc.setuid(uid) != 0)
                return $"setuid({user}): {Marshal.GetLastPInvokeErrorMessage()}";
        }
        // The runtime ignores SIGPIPE in this process, and execve() would pass that on: the daemon (or twist's
        // shell) gets it at its default, as inetd starts tcpd and tcpd leaves it.
        _ = Libc.signal(SigPipe, 0);
        var argvp = ToCStrings(argv);
        // No setenv option: the process's own environment as it is (execv passes environ), without
        // copying it into managed strings and back: tcpd mode never changes its managed copy.
        if (state.Environment.Count == 0)
        {
            _ = Libc.execv(path, argvp);
            return Marshal.GetLastPInvokeErrorMessage();
        }
        var envp = ToCStrings(ProcessLauncher.BuildEnvironment(state.Environment));
        _ = Libc.execve(path, argvp, envp);
        return Marshal.GetLastPInvokeErrorMessage();
    }

    private static byte** ToCStrings(string[] items)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(items.Length + 1), (nuint)sizeof(byte*));
        for (var i = 0; i < items.Length; i++)
            array[i] = Utf8StringMarshaller.ConvertToUnmanaged(items[i]);
        return array;
    }

}
