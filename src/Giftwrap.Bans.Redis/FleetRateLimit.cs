// The cap on bans a member sends into the fleet: a token bucket holding at most one
// window's worth, refilled continuously. A member that goes rogue (or a flood of
// booby-trap hits) then costs the fleet at most the configured rate; its bans stay local.
namespace Giftwrap.Bans.Redis;

internal sealed class FleetRateLimit(FleetRate rate)
{
    private double _tokens = rate.Count;
    private long _lastMs = long.MinValue;

    public bool TryTake(long nowMs)
    {
        if (rate.Unlimited)
            return true;
        if (_lastMs != long.MinValue && nowMs > _lastMs)
            _tokens = Math.Min(rate.Count, _tokens + (nowMs - _lastMs) * rate.Count / rate.Window.TotalMilliseconds);
        _lastMs = Math.Max(_lastMs, nowMs);
        if (_tokens < 1)
            return false;
        _tokens -= 1;
        return true;
    }
}
