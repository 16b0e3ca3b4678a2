// The address rules of part 2: for each daemon:port of [kernel] ports (and each [service:*]
// listen port), the client ranges the tables refuse whatever the lookups would say, as the
// core's compiler (Giftwrap.Analysis.AddressRules) gives them, minus the protected
// addresses. The tables are followed live; a change is reported within 100 ms, and the
// kernel side then rewrites the table (sets and all) in one transaction.
// Not here: deciding what may be refused (the compiler's, which errs toward user space).
using Giftwrap.Analysis;
using Giftwrap.Bans;
using Giftwrap.Tables;

namespace Giftwrap.Kernel;

internal sealed class KernelRules : IDisposable
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);
    private readonly AccessTables _tables;
    private readonly IReadOnlyList<KernelPort> _ports;
    private readonly IReadOnlyList<BanTarget> _protect;
    private readonly Timer? _timer;
    private (object Allow, object Deny) _seen;

    /// <param name="allow">hosts.allow.</param>
    /// <param name="deny">hosts.deny.</param>
    /// <param name="ports">The guarded ports; those with a daemon name get address rules.</param>
    /// <param name="protect">Addresses the kernel never drops.</param>
    /// <param name="live">Follow the tables (serve, kernel sync --follow) or read them once (status).</param>
    public KernelRules(string allow, string deny, IReadOnlyList<KernelPort> ports, IReadOnlyList<BanTarget> protect, bool live)
    {
        _tables = new AccessTables(allow, deny, new AccessTablesOptions { Live = live });
        _ports = [.. ports.Where(p => p.Daemon is not null).DistinctBy(p => (p.Daemon, p.Port))];
        _protect = protect;
        _seen = Snapshot();
        if (live)
            _timer = new Timer(_ => Check(), null, Poll, Poll);
    }

    /// <summary>The tables changed (raised on a timer thread).</summary>
    public event Action? Changed;

    /// <summary>The daemon:port pairs with address rules.</summary>
    public IReadOnlyList<KernelPort> Ports => _ports;

    /// <summary>The compiler's answer for every daemon:port, in the order of <see cref="Ports"/>.</summary>
    public IReadOnlyList<AddressVerdicts> Verdicts() => [.. _ports.Select(p => AddressRules.Compile(_tables, p.Daemon!, p.Port))];

    /// <summary>The refused ranges per daemon:port, protected addresses cut out, as the kernel's sets take them.</summary>
    public IReadOnlyList<DaemonRefusals> Compile()
    {
        var list = new List<DaemonRefusals>();
        foreach (var (port, verdicts) in _ports.Zip(Verdicts()))
        {
            var v4 = new List<string>();
            var v6 = new List<string>();
            foreach (var range in verdicts.Refused)
            {
                var target = BanTarget.Parse(range.ToString());
                foreach (var piece in KernelView.Subtract(target, _protect))
                    (piece.IsIPv4 ? v4 : v6).Add($"{piece.Address}/{piece.PrefixLength}");
            }
            list.Add(new DaemonRefusals(port.Daemon!, [port.Port], v4, v6));
        }
        return list;
    }

    private (object, object) Snapshot()
    {
        var (allow, deny) = _tables.Compiled();
        return (allow, deny);
    }

    private void Check()
    {
        var now = Snapshot();
        if (ReferenceEquals(now.Item1, _seen.Allow) && ReferenceEquals(now.Item2, _seen.Deny))
            return;
        _seen = now;
        Changed?.Invoke();
    }

    public void Dispose()
    {
        _timer?.Dispose();
        _tables.Dispose();
    }
}
