// The descriptors the relay leaves free for the process under it. The runtime needs one now and
// then, and fails hard without it: a thread it starts opens a pipe, the GC reads /proc as it grows
// ("Out of memory." and SIGABRT when it cannot), an assembly loaded late opens its file (and the
// failure is kept for good). Every descriptor a connection takes (the client's from accept(2), the
// backend's socket) is checked against the ceiling: one at or over it is closed (the loop pauses
// that listener, as for EMFILE), so that what is above the ceiling stays the runtime's.
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Forwarding;

internal static unsafe class DescriptorReserve
{
    private const long RereadMs = 1000;
    private static int _ceiling = int.MaxValue;
    private static long _readAt = -RereadMs;

    /// <summary>
    /// The lowest descriptor number a connection may not have: the soft RLIMIT_NOFILE less the
    /// reserve; none when unlimited. Read again at most once a second (prlimit may change it under a
    /// running gate), not once per connection: a system call each would be a tenth more of them.
    /// </summary>
    public static int Ceiling()
    {
        var now = Environment.TickCount64;
        if (now - Volatile.Read(ref _readAt) < RereadMs)
            return Volatile.Read(ref _ceiling);
        var ceiling = Read();
        Volatile.Write(ref _ceiling, ceiling);
        Volatile.Write(ref _readAt, now);
        return ceiling;
    }

    private static int Read()
    {
        Libc.RLimit limit;
        if (Libc.getrlimit(Libc.RlimitNofile, &limit) != 0 || limit.Current >= int.MaxValue)
            return int.MaxValue;
        var soft = (int)limit.Current;
        return soft - Reserve(soft);
    }

    /// <summary>A sixteenth of the limit, at least 16 and at most 256: 64 of the usual 1024.</summary>
    public static int Reserve(int soft) => Math.Clamp(soft / 16, 16, 256);
}
