// A count of what may come in floods (bans kept local by fleet_rate, malformed records from
// Redis), said in one log line per interval: the first at once, then what came since, with the
// first of them named. The fleet's watchdog asks for due lines; leaving the fleet takes the rest.
// Not here: the metrics and notices, which count every one.
namespace Giftwrap.Bans.Redis;

internal sealed class FleetTally
{
    private readonly Lock _lock = new();
    private long _count, _nextMs;
    private string _first = "";

    public TimeSpan Interval { get; set; } = TimeSpan.FromMinutes(1);

    public void Add(string what)
    {
        lock (_lock)
        {
            if (_count++ == 0)
                _first = what;
        }
    }

    /// <summary>The line to say now (how many, the first), or null: nothing counted, or not yet an interval since the last line unless <paramref name="force"/>.</summary>
    public (long Count, string First)? Take(long nowMs, bool force)
    {
        lock (_lock)
        {
            if (_count == 0 || (!force && nowMs < _nextMs))
                return null;
            var line = (_count, _first);
            _count = 0;
            _nextMs = nowMs + (long)Interval.TotalMilliseconds;
            return line;
        }
    }
}
