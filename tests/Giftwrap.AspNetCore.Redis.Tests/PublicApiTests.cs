// The public surface of Giftwrap.AspNetCore.Redis, snapshot-checked: a change to it must change PublicApi.txt
// too, on purpose. Set GIFTWRAP_UPDATE_API=1 to rewrite the snapshot.
using Giftwrap.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Giftwrap.AspNetCore.Redis.Tests;

public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesSnapshot() => PublicApiSnapshot.Verify(typeof(GiftwrapFleetBuilderExtensions).Assembly);
}
