// builder.Services.AddGiftwrap(): registers the options, the one live AccessTables of the
// application (disposed with the host), the gatekeeper that both middlewares share, and the
// fleet member when one is configured. Wiring the middlewares is left to UseGiftwrap().
using Giftwrap.AspNetCore;
using Giftwrap.Tables;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Giftwrap (hosts.allow / hosts.deny access control) to an ASP.NET Core application.</summary>
public static class GiftwrapServiceCollectionExtensions
{
    /// <summary>
    /// Registers Giftwrap: one live <see cref="AccessTables"/> (a singleton, disposed with the host),
    /// the optional ban store and fleet, and what <c>ListenOptions.UseGiftwrap()</c> and
    /// <c>app.UseGiftwrap()</c> need. The options are checked when the application starts; every error is listed.
    /// </summary>
    public static IServiceCollection AddGiftwrap(this IServiceCollection services, Action<GiftwrapOptions>? configure = null)
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
        services.TryAddSingleton<GiftwrapBans>();
        services.TryAddSingleton<Gatekeeper>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, GiftwrapFleetService>());
        return services;
    }
}
