// First version: holds every range (correct, if useless); the three-valued walk follows.
using System.Net;
using Giftwrap.Tables;

namespace Giftwrap.Analysis;

internal static class RuleWalk
{
    public static AddressVerdicts Compile(CompiledTable allow, CompiledTable deny, string daemon, int serverPort)
    {
        var held = new List<HeldRange>
        {
            new(new IPNetwork(IPAddress.Any, 0), "not analysed yet", "", 0),
            new(new IPNetwork(IPAddress.IPv6Any, 0), "not analysed yet", "", 0),
        };
        return new AddressVerdicts(daemon, serverPort, [], held);
    }
}
