// builder.Services.AddGiftwrap().AddBans(new BanOptions { Store = "/var/lib/giftwrap" }):
// registers the local ban store as the gatekeeper's IBanList. Opening it is left to the
// container (on first use); what a ban is and how it is kept is Giftwrap.Bans's business.
using Giftwrap.AspNetCore;
using Giftwrap.AspNetCore.Bans;
using Giftwrap.Bans;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the local ban store to Giftwrap in an ASP.NET Core application.</summary>
public static class GiftwrapBansBuilderExtensions
{
    /// <summary>
    /// Checks every client against the ban store in <see cref="BanOptions.Store"/> before the tables, and
    /// bans the clients a rule's <c>ban DURATION</c> option names. Name the directory that
    /// <c>giftwrap ban</c> and <c>giftwrap serve</c> use (<c>[bans] store</c>), and a ban made there refuses here too.
    /// A store that cannot be opened is logged as an error and bans are not enforced; the tables still decide.
    /// Called again, the last store wins.
    /// </summary>
    public static IGiftwrapBuilder AddBans(this IGiftwrapBuilder builder, BanOptions bans)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(bans);
        if (string.IsNullOrWhiteSpace(bans.Store))
            throw new ArgumentException("BanOptions.Store must name the ban store's directory", nameof(bans));
        var services = builder.Services;
        services.RemoveAll<StoreBanList>();
        services.RemoveAll<IBanList>();
        services.AddSingleton(sp => new StoreBanList(bans, sp.GetRequiredService<ILoggerFactory>()));
        services.AddSingleton<IBanList>(static sp => sp.GetRequiredService<StoreBanList>());
        return builder;
    }
}
