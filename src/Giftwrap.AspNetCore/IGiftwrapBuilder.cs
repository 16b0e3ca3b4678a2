// What AddGiftwrap() returns: the service collection, for the extensions that other packages
// (Giftwrap.AspNetCore.Bans, Giftwrap.AspNetCore.Redis) hang on it, so that a user installs
// only what they use and the wiring still reads as one sentence.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Giftwrap in an application's services; the target of <c>AddBans()</c>, <c>AddFleet()</c> and the like.</summary>
public interface IGiftwrapBuilder
{
    /// <summary>The application's services.</summary>
    IServiceCollection Services { get; }
}

internal sealed class GiftwrapBuilder(IServiceCollection services) : IGiftwrapBuilder
{
    public IServiceCollection Services { get; } = services;
}
