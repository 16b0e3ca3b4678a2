// builder.Services.AddGiftwrap().AddBans(...).AddFleet(new FleetOptions { Redis = "..." }):
// joins the store AddBans() registered to a fleet for the application's lifetime. Sharing
// the bans (pub/sub, catch-up, rate limits) is Giftwrap.Bans.Redis's business.
using Giftwrap.AspNetCore.Bans;
using Giftwrap.AspNetCore.Redis;
using Giftwrap.Bans.Redis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a Redis ban fleet to Giftwrap in an ASP.NET Core application.</summary>
public static class GiftwrapFleetBuilderExtensions
{
    /// <summary>
    /// Joins the ban store of <c>AddBans()</c> to the fleet <paramref name="fleet"/> names when the application
    /// starts: bans made here reach every member, and theirs refuse clients here. Redis being away does not
    /// stop the application; the member catches up when it returns. Needs <c>AddBans()</c> first.
    /// Called again, the last fleet wins.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddBans()</c> was not called first: a fleet shares the bans of a local store.</exception>
    public static IGiftwrapBuilder AddFleet(this IGiftwrapBuilder builder, FleetOptions fleet)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(fleet);
        var services = builder.Services;
        if (!services.Any(d => d.ServiceType == typeof(StoreBanList)))
            throw new InvalidOperationException("AddFleet() needs AddBans() first: a fleet shares the bans of a local store.");
        services.RemoveAll<FleetMember>();
        services.AddSingleton(sp => new FleetMember(fleet, sp.GetRequiredService<StoreBanList>(), sp.GetRequiredService<ILoggerFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, FleetMember>(static sp => sp.GetRequiredService<FleetMember>()));
        return builder;
    }
}
