// AddGiftwrap(): one live AccessTables for the application, options checked with every
// error listed, and UseGiftwrap() refusing to run without it.
using Giftwrap.AspNetCore.Tests.Support;
using Giftwrap.Tables;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Giftwrap.AspNetCore.Tests;

public sealed class ServicesTests
{
    [Fact]
    public void AddGiftwrap_OneAccessTablesOnTheConfiguredFiles()
    {
        using var tables = new TempTables("webapp : 127.0.0.1\n");
        var giftwrap = new ServiceCollection().AddLogging().AddGiftwrap(o =>
        {
            o.AllowPath = tables.Allow;
            o.DenyPath = tables.Deny;
        });
        using var provider = giftwrap.Services.BuildServiceProvider();

        var first = provider.GetRequiredService<AccessTables>();
        var second = provider.GetRequiredService<AccessTables>();

        Assert.Same(first, second);
        Assert.Equal(tables.Allow, first.AllowPath);
        Assert.Equal((1, 1), first.EntryCount);
    }

    [Fact]
    public void Options_Invalid_EveryErrorListed()
    {
        var giftwrap = new ServiceCollection().AddLogging().AddGiftwrap(o =>
        {
            o.DecisionTimeout = TimeSpan.Zero;
            o.IdentPort = 0;
            o.AllowPath = "";
        });
        using var provider = giftwrap.Services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<GiftwrapOptions>>().Value);

        Assert.Equal(3, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("DecisionTimeout", StringComparison.Ordinal));
    }

    [Fact]
    public void UseGiftwrap_WithoutAddGiftwrap_Throws()
    {
        var app = WebApplication.CreateSlimBuilder().Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.UseGiftwrap("webapp"));

        Assert.Contains("AddGiftwrap", error.Message, StringComparison.Ordinal);
    }
}
