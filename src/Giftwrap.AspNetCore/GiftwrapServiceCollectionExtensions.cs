// builder.Services.AddGiftwrap(): registers the options, the one live AccessTables of the
// application (disposed with the host) and the gatekeeper that both middlewares share. Bans
// and the fleet come from their own packages (AddBans(), AddFleet() on the returned builder);
// wiring the middlewares is left to UseGiftwrap().
using Giftwrap.AspNetCore;
using Giftwrap.Tables;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Giftwrap (hosts.allow / hosts.deny access control) to an ASP.NET Core application.</summary>
public static class GiftwrapServiceCollectionExtensions
{
    /// <summary>
    /// Registers Giftwrap: one live <see cref="AccessTables"/> (a singleton, disposed with the host)
    /// and what <c>ListenOptions.UseGiftwrap()</c> and <c>app.UseGiftwrap()</c> need. The options are
    /// checked when the application starts; every error is listed. Bans are checked when an
    /// <see cref="IBanList"/> is registered (Giftwrap.AspNetCore.Bans: <c>.AddBans(...)</c> on the result).
    /// </summary>
    public static IGiftwrapBuilder AddGiftwrap(this IServiceCollection services, Action<GiftwrapOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<GiftwrapOptions>();
        if (configure is not null)
            options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<GiftwrapOptions>, GiftwrapOptionsValidator>());
        services.TryAddSingleton(static sp =>
        {
            var o = sp.GetRequiredService<IOptions<GiftwrapOptions>>().Value;
            return new AccessTables(o.AllowPath, o.DenyPath, new AccessTablesOptions { Live = o.LiveTables });
        });
        services.TryAddSingleton<Gatekeeper>();
        return new GiftwrapBuilder(services);
    }
}
