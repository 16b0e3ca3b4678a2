// The settings of AddGiftwrap(): where the tables are, how names and users are looked up,
// and how long a decision may take; bans and the fleet have their own packages and settings.
// Checked once at start by GiftwrapOptionsValidator, which lists every error, not only the first.
using System.Net;
using Giftwrap.Decisions;
using Microsoft.Extensions.Options;

namespace Giftwrap.AspNetCore;

/// <summary>Settings of the Giftwrap access control for Kestrel (see <c>AddGiftwrap</c>).</summary>
public sealed class GiftwrapOptions
{
    /// <summary>The allow table; <c>/etc/hosts.allow</c> by default. A missing file is an empty table, as in libwrap.</summary>
    public string AllowPath { get; set; } = "/etc/hosts.allow";

    /// <summary>The deny table; <c>/etc/hosts.deny</c> by default.</summary>
    public string DenyPath { get; set; } = "/etc/hosts.deny";

    /// <summary>Follow edits of the tables (the next connection sees them); true by default.</summary>
    public bool LiveTables { get; set; } = true;

    /// <summary>Replaces the network lookups (reverse DNS and RFC 1413 ident) by your own; null uses <see cref="DnsServer"/> and <see cref="IdentPort"/>.</summary>
    public IRequestLookups? Lookups { get; set; }

    /// <summary>A DNS server to ask for client names (verified reverse lookups); null uses the system resolver.</summary>
    public IPEndPoint? DnsServer { get; set; }

    /// <summary>How long one name lookup may take; 5 s by default.</summary>
    public TimeSpan DnsTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The ident (RFC 1413) port asked when a rule needs the client user; 113 by default.</summary>
    public int IdentPort { get; set; } = 113;

    /// <summary>
    /// How long a decision may take, lookups included; 15 s by default. No decision in time
    /// refuses the connection: Giftwrap fails closed.
    /// </summary>
    public TimeSpan DecisionTimeout { get; set; } = TimeSpan.FromSeconds(15);
}

/// <summary>Checks <see cref="GiftwrapOptions"/>; every problem is listed.</summary>
internal sealed class GiftwrapOptionsValidator : IValidateOptions<GiftwrapOptions>
{
    public ValidateOptionsResult Validate(string? name, GiftwrapOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.AllowPath))
            errors.Add("AllowPath must name the allow table (hosts.allow)");
        if (string.IsNullOrWhiteSpace(options.DenyPath))
            errors.Add("DenyPath must name the deny table (hosts.deny)");
        if (options.DecisionTimeout <= TimeSpan.Zero)
            errors.Add($"DecisionTimeout must be positive; found {options.DecisionTimeout}");
        if (options.DnsTimeout <= TimeSpan.Zero)
            errors.Add($"DnsTimeout must be positive; found {options.DnsTimeout}");
        if (options.IdentPort is < 1 or > 65535)
            errors.Add($"IdentPort must be a port from 1 to 65535; found {options.IdentPort}");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
