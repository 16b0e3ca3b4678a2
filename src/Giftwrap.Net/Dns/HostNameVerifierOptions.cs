// The limits of host-name verification: how long one lookup may take, how long answers are
// kept, and how many lookups may run at once. Immutable; Validate() reports every error.
namespace Giftwrap.Net.Dns;

/// <summary>Limits for <see cref="HostNameVerifier"/>.</summary>
public sealed record HostNameVerifierOptions
{
    /// <summary>The defaults: 5 s per lookup, answers kept 60 s, failures 5 s, 10,000 entries, 64 lookups in flight.</summary>
    public static readonly HostNameVerifierOptions Default = new();

    /// <summary>How long each DNS question (the reverse one, then the forward one) may take.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an answer is kept: a verified name, <c>paranoid</c>, or <c>unknown</c> for an address without a name.</summary>
    public TimeSpan CacheTtl { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How long the outcome of a failed lookup (timeout, server failure) is kept; zero keeps none.</summary>
    public TimeSpan FailureCacheTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many addresses the cache holds; the least recently used is dropped first. Zero disables the cache.</summary>
    public int CacheSize { get; init; } = 10_000;

    /// <summary>How many addresses may be looked up at once; beyond it the answer is <c>unknown</c> at once.</summary>
    public int MaxLookupsInFlight { get; init; } = 64;

    /// <summary>Every problem with these options; empty when they are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Timeout <= TimeSpan.Zero || Timeout.TotalMilliseconds > int.MaxValue)
            errors.Add($"Timeout must be positive and under 24 days, not {Timeout}.");
        if (CacheTtl < TimeSpan.Zero)
            errors.Add($"CacheTtl must not be negative, not {CacheTtl}.");
        if (FailureCacheTtl < TimeSpan.Zero)
            errors.Add($"FailureCacheTtl must not be negative, not {FailureCacheTtl}.");
        if (CacheSize < 0)
            errors.Add($"CacheSize must not be negative, not {CacheSize}.");
        if (MaxLookupsInFlight < 1)
            errors.Add($"MaxLookupsInFlight must be at least 1, not {MaxLookupsInFlight}.");
        return errors;
    }
}
