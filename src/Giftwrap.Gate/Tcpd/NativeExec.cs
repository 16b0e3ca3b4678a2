// The last steps of tcpd mode, done on this very process because it is about to
// become the real daemon: umask, nice, group and user changes, then execve() with
// the connection still on descriptors 0, 1 and 2.
using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;
using Giftwrap.Hosting;

namespace Giftwrap.Gate.Tcpd;

internal static unsafe partial class NativeExec
{
    /// <summary>Sets this process's file creation mask (inherited by every program it starts).</summary>
    public static void SetUmask(int mask) => _ = umask(mask);

    /// <summary>Applies <paramref name="state"/> to this process and replaces it by <paramref name="argv"/>; returns only on failure.</summary>
    public static string Exec(string path, string[] argv, ProcessState state)
    {
        if (state.Umask is { } mask)
            _ = umask(mask);
        if (state.Nice is { } n)
        {
            Marshal.SetLastPInvokeError(0);
            _ = nice(n);
        }
        if (state.Group is { } group)
        {
            var gr = getgrnam(group);
            if (gr == 0)
                return $"unknown group: \"{group}\"";
            if (setgid(Marshal.ReadInt32(gr, 2 * IntPtr.Size)) != 0)
                return $"setgid({group}): {Marshal.GetLastPInvokeErrorMessage()}";
        }
        if (state.User is { } user)
        {
            var pw = getpwnam(user);
            if (pw == 0)
                return $"unknown user: \"{user}\"";
            var uid = Marshal.ReadInt32(pw, 2 * IntPtr.Size);
            var gid = Marshal.ReadInt32(pw, 2 * IntPtr.Size + 4);
            if (state.Group is null && setgid(gid) != 0)
                return $"setgid: {Marshal.GetLastPInvokeErrorMessage()}";
            if (initgroups(user, state.Group is null ? gid : getegid()) != 0 || setuid(uid) != 0)
                return $"setuid({user}): {Marshal.GetLastPInvokeErrorMessage()}";
        }
        var env = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            env[(string)e.Key] = (string?)e.Value ?? "";
        foreach (var (k, v) in state.Environment)
            env[k] = v;
        var argvp = ToCStrings(argv);
        var envp = ToCStrings([.. env.Select(kv => $"{kv.Key}={kv.Value}")]);
        _ = execve(path, argvp, envp);
        return Marshal.GetLastPInvokeErrorMessage();
    }

    private static byte** ToCStrings(string[] items)
    {
        var array = (byte**)NativeMemory.AllocZeroed((nuint)(items.Length + 1), (nuint)sizeof(byte*));
        for (var i = 0; i < items.Length; i++)
            array[i] = Utf8StringMarshaller.ConvertToUnmanaged(items[i]);
        return array;
    }

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int execve(string path, byte** argv, byte** envp);

    [LibraryImport("libc.so.6")]
    private static partial int umask(int mask);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int nice(int inc);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int setuid(int uid);

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int setgid(int gid);

    [LibraryImport("libc.so.6")]
    private static partial int getegid();

    [LibraryImport("libc.so.6", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int initgroups(string user, int group);

    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getpwnam(string name);

    [LibraryImport("libc.so.6", StringMarshalling = StringMarshalling.Utf8)]
    private static partial nint getgrnam(string name);
}
