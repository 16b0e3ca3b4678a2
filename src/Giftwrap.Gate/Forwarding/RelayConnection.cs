// A connection in the relay, as its loop sees it: the two descriptors, each direction's state
// (what it holds back for a slow reader, its pipe when splicing, how it ended), what is known of
// each descriptor's readiness, and its place in the loop's list. Plain data; RelayLoop acts on it.
using System.Runtime.InteropServices;

namespace Giftwrap.Gate.Forwarding;

/// <summary>One direction of a relayed connection: what waits to be written, and how it ended.</summary>
internal struct RelayDirection
{
    public byte[]? Held;
    public int HeldOffset;
    public int HeldLength;
    public int PipeRead;
    public int PipeWrite;
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
    public bool ClientReadable;
    public bool ClientWritable = true;
    public bool BackendReadable;
    public bool BackendWritable;
    public RelayDirection Up = new() { PipeRead = -1, PipeWrite = -1 };
    public RelayDirection Down = new() { PipeRead = -1, PipeWrite = -1 };
    public GCHandle Handle;
    public RelayConnection? Previous;
    public RelayConnection? Next;
}
