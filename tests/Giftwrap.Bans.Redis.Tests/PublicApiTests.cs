// The public surface of Giftwrap.Bans.Redis, snapshot-checked: a change to it must change PublicApi.txt beside
// this file too, on purpose. To regenerate after an intended change (then review the diff and commit):
//   GIFTWRAP_UPDATE_API=1 dotnet test tests/Giftwrap.Bans.Redis.Tests -c Release --filter FullyQualifiedName~PublicApi
using Giftwrap.Testing;

namespace Giftwrap.Bans.Redis.Tests;

public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesSnapshot() => PublicApiSnapshot.Verify(typeof(FleetNotice).Assembly);
}
