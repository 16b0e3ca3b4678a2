// libwrap's double-reverse check (socket.c, sock_hostname): the PTR name of a client address is
// believed only when the forward lookup of that name gives the address back. Adds what libwrap
// left to the resolver: a timeout per question, a cache, and a bound on lookups in flight.
// SECURITY: the name belongs to whoever owns the reverse zone. A name over 253 chars, or with any
// char outside '!'..'~' (NUL, newline, other controls, space, non-ASCII), is "unknown": it never
// reaches a pattern, a log line or a shell. A name that parses as an address is "paranoid" (it would
// "verify" itself). Other names, shell metacharacters included, are returned as they are, cut to
// libwrap's 127 chars after verification; making them shell-safe is %-expansion's job.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;

namespace Giftwrap.Net.Dns;

/// <summary>
/// Finds the verified host name of an address: the name, <c>unknown</c> or <c>paranoid</c>, as libwrap does.
/// Thread-safe; one instance is meant to serve the whole process.
/// </summary>
public sealed class HostNameVerifier
{
    /// <summary>RFC 1035 2.3.4 as text: 255 octets on the wire are at most 253 chars without the final dot.</summary>
    public const int MaxNameLength = 253;

    private readonly IDnsClient _dns;
    private readonly HostNameVerifierOptions _options;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private readonly NameCache _cache;
    private readonly Dictionary<IPAddress, Task<string>> _pending = [];
    private int _slots;

    /// <summary>Creates a verifier asking <paramref name="dns"/>; <paramref name="options"/> defaults to <see cref="HostNameVerifierOptions.Default"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem.</exception>
    public HostNameVerifier(IDnsClient dns, HostNameVerifierOptions? options = null)
        : this(dns, options, TimeProvider.System)
    {
    }

    /// <summary>As the public constructor, with the clock the cache uses (timeouts always use real time).</summary>
    internal HostNameVerifier(IDnsClient dns, HostNameVerifierOptions? options, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(dns);
        _options = options ?? HostNameVerifierOptions.Default;
        IReadOnlyList<string> errors = _options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
        }
        _dns = dns;
        _clock = clock;
        _cache = new NameCache(_options.CacheSize);
    }

    /// <summary>How many lookups hold a slot now, including resolver calls abandoned at their timeout but still running.</summary>
    public int LookupsInFlight
    {
        get
        {
            lock (_gate)
            {
                return _slots;
            }
        }
    }

    /// <summary>
    /// The verified host name of <paramref name="address"/> (an IPv4-mapped IPv6 address is looked up as IPv4):
    /// the name when its forward lookup contains the address; <c>unknown</c> when there is no usable PTR name,
    /// the reverse lookup failed or timed out, or too many lookups are in flight; <c>paranoid</c> when the
    /// forward lookup does not contain the address or fails (libwrap: "can't verify hostname").
    /// Lookups of the same address share one query; answers are cached.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the lookup itself goes on and is cached.</exception>
    public ValueTask<string> VerifiedNameAsync(IPAddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        cancellationToken.ThrowIfCancellationRequested();
        IPAddress key = Normalize(address);
        TaskCompletionSource<string> done;
        lock (_gate)
        {
            if (_cache.TryGet(key, _clock.GetUtcNow(), out string cached))
            {
                return ValueTask.FromResult(cached);
            }
            if (_pending.TryGetValue(key, out Task<string>? shared))
            {
                return new ValueTask<string>(shared.WaitAsync(cancellationToken));
            }
            if (_slots >= _options.MaxLookupsInFlight)
            {
                // Shed load rather than queue: a flood of new addresses must not grow memory or delay everyone.
                // Not cached, so the address is looked up properly once the resolver keeps up again.
                return ValueTask.FromResult(AccessRequest.Unknown);
            }
            _slots++;
            done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[key] = done.Task;
        }
        _ = RunAsync(key, done);
        return new ValueTask<string>(done.Task.WaitAsync(cancellationToken));
    }

    /// <summary>Cuts a trailing dot; null when the name is unusable (empty, over 253 chars, a char outside '!'..'~').</summary>
    internal static string? UsableName(string name)
    {
        if (name.EndsWith('.'))
        {
            name = name[..^1];
        }
        if (name.Length is 0 or > MaxNameLength)
        {
            return null;
        }
        foreach (char c in name)
        {
            if (c is <= ' ' or > '~')
            {
                return null;
            }
        }
        return name;
    }

    /// <summary>IPv4-mapped IPv6 as IPv4 (libwrap sees the IPv4 client); IPv6 without its scope, so cache keys compare equal.</summary>
    internal static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            return address.MapToIPv4();
        }
        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPAddress(address.GetAddressBytes())
            : address;
    }

    private async Task RunAsync(IPAddress address, TaskCompletionSource<string> done)
    {
        var abandoned = new List<Task>(2);
        Outcome outcome;
        try
        {
            outcome = await LookUpAsync(address, abandoned).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // LookUpAsync turns resolver failures into outcomes; anything else is a bug, and still must
            // not leave callers waiting forever or the slot taken.
            outcome = new Outcome(AccessRequest.Unknown, Failed: true);
        }
        lock (_gate)
        {
            TimeSpan ttl = outcome.Failed ? _options.FailureCacheTtl : _options.CacheTtl;
            if (ttl > TimeSpan.Zero)
            {
                _cache.Set(address, outcome.Name, _clock.GetUtcNow() + ttl);
            }
            _pending.Remove(address);
        }
        done.SetResult(outcome.Name);
        // The slot is held until the resolver's own work ends: an abandoned System.Net.Dns call still
        // blocks a thread, and the bound is on those threads, not on our waits.
        _ = Task.WhenAll(abandoned).ContinueWith(static (all, state) =>
        {
            _ = all.Exception;
            ((HostNameVerifier)state!).Release();
        }, this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Release()
    {
        lock (_gate)
        {
            _slots--;
        }
    }

    private async Task<Outcome> LookUpAsync(IPAddress address, List<Task> abandoned)
    {
        IReadOnlyList<string>? names = await AskAsync(GiftwrapMetrics.DnsReverse, token => _dns.ReverseAsync(address, token), abandoned).ConfigureAwait(false);
        if (names is null)
        {
            return new Outcome(AccessRequest.Unknown, Failed: true);
        }
        // libwrap takes the one name gethostbyaddr gives; with several PTR records, the first.
        string? name = names.Count == 0 ? null : UsableName(names[0]);
        if (name is null)
        {
            return new Outcome(AccessRequest.Unknown, Failed: false);
        }
        if (IPAddress.TryParse(name, out _))
        {
            return new Outcome(AccessRequest.Paranoid, Failed: false);
        }
        IReadOnlyList<IPAddress>? addresses = await AskAsync(GiftwrapMetrics.DnsForward, token => _dns.ForwardAsync(name, token), abandoned).ConfigureAwait(false);
        if (addresses is null)
        {
            // libwrap: "can't verify hostname: gethostbyname(%s) failed" ends in paranoid too.
            return new Outcome(AccessRequest.Paranoid, Failed: true);
        }
        foreach (IPAddress candidate in addresses)
        {
            if (Normalize(candidate).Equals(address))
            {
                // request_set() keeps STRING_LENGTH - 1 chars.
                return new Outcome(name.Length <= AccessRequest.MaxFieldLength ? name : name[..AccessRequest.MaxFieldLength], Failed: false);
            }
        }
        return new Outcome(AccessRequest.Paranoid, Failed: false);
    }

    /// <summary>One resolver question under the timeout, counted in the lookup metrics; null when it failed or timed out.</summary>
    private async Task<T?> AskAsync<T>(string kind, Func<CancellationToken, Task<T>> question, List<Task> abandoned)
        where T : class
    {
        using var timeout = new CancellationTokenSource(_options.Timeout);
        long started = Stopwatch.GetTimestamp();
        Task<T> call;
        try
        {
            call = question(timeout.Token);
        }
        catch (Exception)
        {
            // Whatever the resolver throws, the lookup failed; the outcome must not depend on the exception type.
            GiftwrapMetrics.LookedUp(kind, GiftwrapMetrics.Failed, started);
            return null;
        }
        try
        {
            T answer = await call.WaitAsync(timeout.Token).ConfigureAwait(false);
            GiftwrapMetrics.LookedUp(kind, GiftwrapMetrics.Ok, started);
            return answer;
        }
        catch (Exception)
        {
            // Timed out or failed. A call still running (System.Net.Dns ignores cancellation) keeps the slot.
            GiftwrapMetrics.LookedUp(kind, timeout.IsCancellationRequested ? GiftwrapMetrics.TimedOut : GiftwrapMetrics.Failed, started);
            abandoned.Add(call);
            return null;
        }
    }

    private readonly record struct Outcome(string Name, bool Failed);
}
