// libwrap's double-reverse check, step by step as Debian's socket.c sock_hostname() does it: the
// reverse name (cut to the 127 bytes of host->name before anything else), refused when it reads as
// a numeric address of the client's family, then getaddrinfo(name, AI_CANONNAME) in that family:
// a failure, a canonical name that differs (strcasecmp; "localhost" excepted) or an address list
// without the client makes the client "paranoid", with libwrap's own warning for each case.
// Adds what libwrap left to the resolver: a timeout per question, a cache, a bound on lookups in flight.
// SECURITY: the name belongs to whoever owns the reverse zone (or /etc/hosts). It is kept byte for
// byte, as libwrap keeps it (a trailing dot, non-ASCII bytes from /etc/hosts); the DNS client drops
// PTR names that are not host names, as glibc's resolver does (res_hnok), and %-expansion makes
// every byte outside its safe set '_' before a shell sees it.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Giftwrap.Decisions;
using Giftwrap.Diagnostics;
using Giftwrap.Patterns;

namespace Giftwrap.Net.Dns;

/// <summary>
/// Finds the verified host name of an address: the name, <c>unknown</c> or <c>paranoid</c>, as libwrap does.
/// Thread-safe; one instance is meant to serve the whole process.
/// </summary>
public sealed class HostNameVerifier
{
    /// <summary>RFC 1035 2.3.4 as text: 255 octets on the wire are at most 253 chars without the final dot.</summary>
    public const int MaxNameLength = 253;

    // The warnings, in the words of socket.c (Debian 7.6.q, the getaddrinfo variant).
    private const string NonFqdn = "host name/name mismatch: reverse lookup results in non-FQDN {0}";
    private const string CannotVerify = "can't verify hostname: getaddrinfo({0}, {1}) failed";
    private const string NameMismatch = "host name/name mismatch: {0} != {1}";
    private const string AddressMismatch = "host name/address mismatch: {0} != {1}";

    private readonly IDnsClient _dns;
    private readonly HostNameVerifierOptions _options;
    private readonly TimeProvider _clock;
    private readonly Lock _gate = new();
    private readonly NameCache _cache;
    private readonly Dictionary<IPAddress, Task<HostNameLookup>> _pending = [];
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
        var errors = _options.Validate();
        if (errors.Count > 0)
            throw new ArgumentException(string.Join(" ", errors), nameof(options));
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
    /// the name when its forward lookup agrees; <c>unknown</c> when there is no PTR name, the reverse lookup
    /// failed or timed out, or too many lookups are in flight; <c>paranoid</c> when the name does not verify.
    /// Lookups of the same address share one query; answers are cached.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled; the lookup itself goes on and is cached.</exception>
    public async ValueTask<string> VerifiedNameAsync(IPAddress address, CancellationToken cancellationToken) =>
        (await VerifyAsync(address, cancellationToken).ConfigureAwait(false)).Name;

    /// <summary>
    /// As <see cref="VerifiedNameAsync"/>, with the warning libwrap's sock_hostname() logs when the name does
    /// not verify (<c>host name/name mismatch: ...</c>, <c>host name/address mismatch: ...</c>,
    /// <c>can't verify hostname: ...</c>); a cached answer carries its warning again, as every libwrap
    /// process logs it again.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public ValueTask<HostNameLookup> VerifyAsync(IPAddress address, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(address);
        cancellationToken.ThrowIfCancellationRequested();
        var key = Normalize(address);
        TaskCompletionSource<HostNameLookup> done;
        lock (_gate)
        {
            if (_cache.TryGet(key, _clock.GetUtcNow(), out var cached))
                return ValueTask.FromResult(cached);
            if (_pending.TryGetValue(key, out var shared))
                return new ValueTask<HostNameLookup>(shared.WaitAsync(cancellationToken));
            if (_slots >= _options.MaxLookupsInFlight)
            {
                // Shed load rather than queue: a flood of new addresses must not grow memory or delay everyone.
                // Not cached, so the address is looked up properly once the resolver keeps up again.
                return ValueTask.FromResult(new HostNameLookup(AccessRequest.Unknown, null));
            }
            _slots++;
            done = new TaskCompletionSource<HostNameLookup>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[key] = done.Task;
        }
        _ = RunAsync(key, done);
        return new ValueTask<HostNameLookup>(done.Task.WaitAsync(cancellationToken));
    }

    /// <summary>IPv4-mapped IPv6 as IPv4 (libwrap sees the IPv4 client); IPv6 without its scope, so cache keys compare equal.</summary>
    internal static IPAddress Normalize(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
            return address.MapToIPv4();
        return address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0
            ? new IPAddress(address.GetAddressBytes())
            : address;
    }

    private async Task RunAsync(IPAddress address, TaskCompletionSource<HostNameLookup> done)
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
            outcome = Unknown(failed: true);
        }
        lock (_gate)
        {
            var ttl = outcome.Failed ? _options.FailureCacheTtl : _options.CacheTtl;
            if (ttl > TimeSpan.Zero)
                _cache.Set(address, outcome.Lookup, _clock.GetUtcNow() + ttl);
            _pending.Remove(address);
        }
        done.SetResult(outcome.Lookup);
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
        var names = await AskAsync(GiftwrapMetrics.DnsReverse, token => _dns.ReverseAsync(address, token), abandoned).ConfigureAwait(false);
        if (names is null)
            return Unknown(failed: true);
        // libwrap takes the one name getnameinfo gives (with several PTR records, the first), as a C
        // string, and STRN_CPY()s it into host->name: 127 bytes, before it is checked or looked up.
        var name = names.Count == 0 ? null : CString(names[0]);
        if (name is null)
            return Unknown(failed: false);
        name = AccessRequest.Cut(name);
        var family = address.AddressFamily;
        if (IsNumericHost(name, family))
        {
            // A PTR name "10.1.2.3" would otherwise "verify" itself.
            return Paranoid(string.Format(CultureInfo.InvariantCulture, NonFqdn, name), failed: false);
        }
        var answer = await AskAsync(GiftwrapMetrics.DnsForward, token => _dns.ForwardCanonicalAsync(name, family, token), abandoned).ConfigureAwait(false);
        if (answer is null || answer.Addresses.Count == 0)
        {
            return Paranoid(string.Format(CultureInfo.InvariantCulture, CannotVerify, name,
                family == AddressFamily.InterNetwork ? "AF_INET" : "AF_INET6"), failed: answer is null);
        }
        var canonical = answer.CanonicalName ?? "";
        if ((answer.CanonicalName is null || !Ascii.EqualsIgnoreCase(name, canonical))
            && !Ascii.EqualsIgnoreCase(name, "localhost"))
        {
            // gethostbyaddr() and gethostbyname() disagree on the name: a botched zone, or a spoof.
            return Paranoid(string.Format(CultureInfo.InvariantCulture, NameMismatch, name, Printed(canonical)), failed: false);
        }
        foreach (var candidate in answer.Addresses)
        {
            if (candidate.AddressFamily == family && Normalize(candidate).Equals(address))
                return new Outcome(new HostNameLookup(name, null), Failed: false);
        }
        return Paranoid(string.Format(CultureInfo.InvariantCulture, AddressMismatch, address, Printed(canonical)), failed: false);
    }

    private static Outcome Unknown(bool failed) => new(new HostNameLookup(AccessRequest.Unknown, null), failed);

    private static Outcome Paranoid(string warning, bool failed) => new(new HostNameLookup(AccessRequest.Paranoid, warning), failed);

    /// <summary>The text up to a NUL, as C sees it; null when nothing is left.</summary>
    private static string? CString(string name)
    {
        var nul = name.IndexOf('\0', StringComparison.Ordinal);
        var text = nul < 0 ? name : name[..nul];
        return text.Length == 0 ? null : text;
    }

    /// <summary>"%.*s" with STRING_LENGTH: at most 128 chars of the canonical name in a warning.</summary>
    private static string Printed(string canonical) => canonical.Length <= 128 ? canonical : canonical[..128];

    /// <summary>
    /// getaddrinfo(name, AI_NUMERICHOST) with the client's family succeeds: for IPv4 the inet_aton forms
    /// ("10.1.2.3", "10.258", "0x7f.1", "017.1"), for IPv6 inet_pton's text with an optional %scope.
    /// </summary>
    internal static bool IsNumericHost(string name, AddressFamily family)
    {
        if (family == AddressFamily.InterNetwork)
            return Ipv4.TryInetAton(name, out _);
        var scope = name.IndexOf('%', StringComparison.Ordinal);
        return Ipv6.TryParse(scope < 0 ? name : name.AsSpan(0, scope), out _);
    }

    /// <summary>One resolver question under the timeout, counted in the lookup metrics; null when it failed or timed out.</summary>
    private async Task<T?> AskAsync<T>(string kind, Func<CancellationToken, Task<T>> question, List<Task> abandoned)
        where T : class
    {
        using var timeout = new CancellationTokenSource(_options.Timeout);
        var started = Stopwatch.GetTimestamp();
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
            var answer = await call.WaitAsync(timeout.Token).ConfigureAwait(false);
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

    private readonly record struct Outcome(HostNameLookup Lookup, bool Failed);
}
