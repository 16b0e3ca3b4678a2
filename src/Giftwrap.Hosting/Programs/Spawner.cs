// Starts service programs (inetd's exec) on threads of its own. posix_spawn() holds its caller until
// the child has exec'd (glibc clones with CLONE_VFORK), and on a busy machine a new child may wait
// milliseconds for a CPU first: a thread-pool worker held that long queues every connection behind it
// (issue 16's latency tail). Here a held spawn holds one of these threads only; they start on demand up
// to MaxThreads, and leave after IdleTimeout without work. The spawn is ProcessLauncher's, the reaping ChildReaper's.
namespace Giftwrap.Hosting;

internal static class Spawner
{
    /// <summary>Spawns waiting for their child's exec at once; more wait in line for a thread.</summary>
    public const int MaxThreads = 16;

    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);
    // An object, not a Lock: the threads wait on it with Monitor.Wait.
    private static readonly object Gate = new();
    private static readonly Queue<Request> Pending = new();
    private static int _threads;
    private static int _idle;
    private static int _wakeups;

    /// <summary>One program to start, and the descriptor's owner to let go of once it has started (or could not).</summary>
    private sealed record Request(string[] Argv, ProcessState State, int Stdio, IDisposable? Release, TaskCompletionSource<Task<ChildExit>> Started);

    /// <summary>Threads running now (for tests and diagnostics).</summary>
    public static int Threads => Volatile.Read(ref _threads);

    /// <summary>
    /// Starts <paramref name="argv"/> with <paramref name="stdio"/> on descriptors 0-2 on a spawner thread, then disposes
    /// <paramref name="release"/> there (the caller's copy of the descriptor: the child has its own by then). The task
    /// completes once that is done, with the task of how the program ends; it fails with <see cref="IOException"/> when
    /// the program could not start. The caller must not close the descriptor itself before then.
    /// </summary>
    public static Task<Task<ChildExit>> StartAsync(string[] argv, ProcessState state, int stdio, IDisposable? release)
    {
        var started = new TaskCompletionSource<Task<ChildExit>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var startThread = false;
        lock (Gate)
        {
            Pending.Enqueue(new Request(argv, state, stdio, release, started));
            // An idle thread not yet woken takes it; else a new thread, up to the bound; else it waits in line.
            if (_idle > _wakeups)
            {
                _wakeups++;
                Monitor.Pulse(Gate);
            }
            else if (_threads < MaxThreads)
            {
                _threads++;
                startThread = true;
            }
        }
        if (startThread)
            new Thread(Loop) { IsBackground = true, Name = "giftwrap spawner" }.Start();
        return started.Task;
    }

    private static void Loop()
    {
        while (Next() is { } request)
            Run(request);
    }

    /// <summary>The next request; null when none came within IdleTimeout (the thread then leaves).</summary>
    private static Request? Next()
    {
        lock (Gate)
        {
            while (Pending.Count == 0)
            {
                _idle++;
                var woken = Monitor.Wait(Gate, IdleTimeout);
                _idle--;
                // Approximate when a timeout crosses a pulse; nothing is lost by it: a thread looks at the line before it leaves.
                if (_wakeups > 0)
                    _wakeups--;
                if (!woken && Pending.Count == 0)
                {
                    _threads--;
                    return null;
                }
            }
            return Pending.Dequeue();
        }
    }

    private static void Run(Request request)
    {
        Task<ChildExit> exited;
        try
        {
            exited = ChildReaper.WatchExit(ProcessLauncher.Start(request.Argv, request.State, request.Stdio));
        }
        catch (Exception ex)
        {
            // Handed to the caller as a synchronous Start would have thrown it (IOException: it could not
            // start); this thread must not die of it with its count taken.
            request.Release?.Dispose();
            request.Started.SetException(ex);
            return;
        }
        // Let go of the descriptor first: the client sees its end only when every copy is closed.
        request.Release?.Dispose();
        request.Started.SetResult(exited);
    }
}
