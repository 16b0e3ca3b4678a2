// A connection in the relay, as its loop sees it: the two descriptors, each direction's state
// (its reader and writer and what is known of their readiness, what it holds back for a slow
// reader, its pipe when splicing, how it ended), and its place in the loop's slots and lists. Plain data;
// RelayLoop acts on it, RelayPump moves a direction's bytes.
namespace Giftwrap.Gate.Forwarding;

/// <summary>One direction of a relayed connection: where it reads and writes, what waits to be written, and how it ended.</summary>
internal struct RelayDirection(int from, int to)
{
    public readonly int From = from;
    public readonly int To = to;
    /// <summary>The reader may have bytes (or its end of stream) for us: set by an epoll edge, cleared by EAGAIN or a short read.</summary>
    public bool Readable;
    /// <summary>The writer may take bytes: set by an epoll edge, cleared by EAGAIN.</summary>
    public bool Writable;
    public byte[]? Held;
    public int HeldOffset;
    public int HeldLength;
    public int PipeRead = -1;
    public int PipeWrite = -1;
    public int InPipe;
    public long Bytes;
    /// <summary>The source said it sends no more (RDHUP/HUP seen): a short read does not mean drained.</summary>
    public bool PeerClosed;
    /// <summary>The source's FIN has arrived (RDHUP without an error): once a read drains the queue, nothing more comes.</summary>
    public bool FinSeen;
    public bool Eof;
    public bool Done;
}

/// <summary>A connection in the relay. Touched by its loop's thread only, once adopted.</summary>
/// <remarks>
/// A new connection counts as connecting even when connect(2) finished at once: until the backend's
/// first event (writable, at once then), the loop only notes the client's readiness, so nothing can
/// end the connection while another thread is still adopting it.
/// </remarks>
internal sealed class RelayConnection(int clientFd, int backendFd, object? state, long deadline)
{
    public readonly int ClientFd = clientFd;
    public readonly int BackendFd = backendFd;
    public readonly object? State = state;
    public long Deadline = deadline;
    public bool Connecting = true;
    public bool Ended;
    public bool Queued;
    /// <summary>On the loop's list of half-closed connections, whose idle time is watched.</summary>
    public bool HalfClosed;
    /// <summary>When the half-closed connection is looked at next (Environment.TickCount64).</summary>
    public long IdleCheck;
    /// <summary>Bytes moved both ways when the idle time was last looked at: unchanged at the next look means idle.</summary>
    public long IdleBytes;
    public RelayConnection? HalfPrevious;
    public RelayConnection? HalfNext;
    /// <summary>Client to backend: the client's readability, the backend's writability.</summary>
    public RelayDirection Up = new(clientFd, backendFd);
    /// <summary>Backend to client: the backend's readability, the client's writability (writable until told otherwise).</summary>
    public RelayDirection Down = new(backendFd, clientFd) { Writable = true };
    /// <summary>Its place in the loop's ConnectionSlots (-1 when it has none), and the generation its epoll events carry.</summary>
    public int Slot = -1;
    public uint Generation;
}
