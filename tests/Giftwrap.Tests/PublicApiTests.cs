// The public surface of Giftwrap.Core, snapshot-checked: a change to it must change PublicApi.txt
// too, on purpose (docs/library.md says what is public and why). GIFTWRAP_UPDATE_API=1 rewrites it.
using Giftwrap.Tables;
using Giftwrap.Testing;

namespace Giftwrap.Tests;

public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesSnapshot() => PublicApiSnapshot.Verify(typeof(AccessTables).Assembly);
}
