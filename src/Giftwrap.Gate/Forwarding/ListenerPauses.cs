// Listeners a relay loop has stopped watching for a moment because accept(2) ran out of
// descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM): each with the tick it is due back.
// Its loop's thread's alone; taking a listener off epoll and putting it back is the loop's.
namespace Giftwrap.Gate.Forwarding;

internal sealed class ListenerPauses
{
    private readonly List<(RelayListener Listener, long Resume)> _paused = [];

    public void Pause(RelayListener l, long resume) => _paused.Add((l, resume));

    /// <summary>Forgets <paramref name="l"/> (it is being removed from the loop).</summary>
    public void Forget(RelayListener l) => _paused.RemoveAll(p => p.Listener == l);

    /// <summary>Milliseconds until a paused listener is due back; -1 when none is paused.</summary>
    public int NextResume() => _paused.Count == 0 ? -1 : ConnectDeadlines.Until(_paused.Min(p => p.Resume));

    /// <summary>A listener due back by <paramref name="now"/>, taken off the list; null when none.</summary>
    public RelayListener? TakeDue(long now)
    {
        for (var i = _paused.Count - 1; i >= 0; i--)
        {
            var (l, resume) = _paused[i];
            if (resume > now)
                continue;
            _paused.RemoveAt(i);
            return l;
        }
        return null;
    }
}
