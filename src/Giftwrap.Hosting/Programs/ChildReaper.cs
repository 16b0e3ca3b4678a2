// Collects the exit status of every child a host starts, so none is left a
// zombie: one background thread waits on the registered pids (woken by SIGCHLD,
// and every 250 ms in case a signal was merged away), started at the first child;
// while it cannot be started (out of descriptors: the runtime opens a file to name a
// thread), a timer on the thread pool scans instead. Tasks complete with the
// child's status as the shell reports it (exit code, or 128 + signal), or with the
// exit code and the signal apart where a caller must tell them apart (aclexec's log line).
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Giftwrap.Hosting.Interop;

namespace Giftwrap.Hosting;

/// <summary>How a child ended: its exit code, or the signal that killed it (0 when none).</summary>
internal readonly record struct ChildExit(int Pid, int Code, int Signal)
{
    /// <summary>The status as the shell reports it: the exit code, or 128 + signal.</summary>
    public int Status => Signal == 0 ? Code : 128 + Signal;

    /// <summary>A program that was not started (a bound, or a failure already reported): status -1, as libwrap's failed fork.</summary>
    public static ChildExit NotStarted => new(0, -1, 0);
}

internal static unsafe class ChildReaper
{
    private static readonly ConcurrentDictionary<int, TaskCompletionSource<ChildExit>> Children = new();
    // An event, not a counting semaphore: one scan answers every wake-up that came before it, and
    // spinCount 0 keeps the thread from spinning in sched_yield() before it sleeps (a counting
    // semaphore scanned once per release, and spun each time: thousands of yields per hundred
    // children under load, the exec services' latency tail in issue 16).
    private static readonly ManualResetEventSlim Wake = new(false, spinCount: 0);
    private static readonly PosixSignalRegistration? SigChld = Register();
    // One scan at a time: two waitpid() calls on one pid would give the second ECHILD, and the
    // child's status could be lost to that one's "-1".
    private static readonly Lock Scanning = new();
    private static readonly Lock Starting = new();
    private static Thread? _reaper;
    // Scans while the thread cannot be started, and tries to start it again.
    private static Timer? _fallback;

    public static int Running => Children.Count;

    /// <summary>The exit status of <paramref name="pid"/> when it ends.</summary>
    public static Task<int> Watch(int pid) =>
        WatchExit(pid).ContinueWith(static t => t.Result.Status, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>How <paramref name="pid"/> ended, when it ends (code -1 when it could not be waited for).</summary>
    public static Task<ChildExit> WatchExit(int pid)
    {
        var tcs = new TaskCompletionSource<ChildExit>(TaskCreationOptions.RunContinuationsAsynchronously);
        Children[pid] = tcs;
        EnsureReaper();
        Wake.Set();
        return tcs.Task;
    }

    private static PosixSignalRegistration? Register()
    {
        try
        {
            return PosixSignalRegistration.Create(PosixSignal.SIGCHLD, ctx =>
            {
                ctx.Cancel = false;
                Wake.Set();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Starts the reaper thread unless it runs. Not in the type's initializer: a thread that cannot be
    /// started there (the gate out of descriptors at its first program) would fail the type for good,
    /// and the SIGCHLD handler, which touches it on the thread pool, would then take the process down.
    /// </summary>
    private static void EnsureReaper()
    {
        if (Volatile.Read(ref _reaper) is not null)
            return;
        lock (Starting)
        {
            if (_reaper is not null)
                return;
            var t = new Thread(Loop) { IsBackground = true, Name = "giftwrap child reaper" };
            try
            {
                t.Start();
                Volatile.Write(ref _reaper, t);
                _fallback?.Dispose();
                _fallback = null;
            }
            catch (Exception ex) when (ex is OutOfMemoryException or ThreadStartException)
            {
                // No thread now (the runtime reports EMFILE and ENOMEM as out of memory): the
                // children registered are still reaped, a little later, by the timer.
                _fallback ??= new Timer(static _ => FallbackTick(), null, 250, 250);
            }
        }
    }

    private static void FallbackTick()
    {
        EnsureReaper();
        Scan();
    }

    private static void Loop()
    {
        _ = SigChld;
        while (true)
        {
            Wake.Wait(250);
            // Reset before the scan: a child that ends during it sets the event again, so the next
            // Wait returns at once and nothing is missed.
            Wake.Reset();
            Scan();
        }
    }

    private static void Scan()
    {
        lock (Scanning)
        {
            foreach (var pid in Children.Keys)
            {
                int status;
                var rc = Libc.waitpid(pid, &status, Libc.WNoHang);
                if (rc == pid || (rc < 0 && Marshal.GetLastPInvokeError() == Libc.EChild))
                {
                    if (Children.TryRemove(pid, out var tcs))
                        tcs.TrySetResult(rc == pid ? Decode(pid, status) : new ChildExit(pid, -1, 0));
                }
            }
        }
    }

    private static ChildExit Decode(int pid, int status)
    {
        var signal = status & 0x7f;
        return signal == 0 ? new ChildExit(pid, (status >> 8) & 0xff, 0) : new ChildExit(pid, 0, signal);
    }
}
