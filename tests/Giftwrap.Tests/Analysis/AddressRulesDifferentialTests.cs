// AddressRules against the real evaluator, on random tables (seeded, replayable by seed):
// mixed tables (every pattern form, options and broken lines, from the conformance
// generator): an address the compiler refuses is refused under every lookup outcome
// tried (names, user, server address and name, port, netgroup membership); address-only tables: the compiler
// refuses exactly the addresses the evaluator refuses (it misses none).
using System.Net;
using System.Text;
using Giftwrap.Analysis;
using Giftwrap.Decisions;
using Giftwrap.Tables;
using Giftwrap.Tests.Conformance;
using Xunit.Abstractions;

namespace Giftwrap.Tests.Analysis;

public sealed class AddressRulesDifferentialTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("giftwrap-addr-").FullName;
    private readonly ITestOutputHelper _output;

    public AddressRulesDifferentialTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly string[] ClientNames =
        ["unknown", "paranoid", "a.example.com", "localhost", "host", "h1", "mail.example.net", "x.y.example.org", "10.0.0.1", "1.2.3.4", "[::1]", "dot.example.com."];
    private static readonly string[] Users = ["unknown", "root", "bob", "BOB", "alice"];
    private static readonly string?[] ServerAddresses = [null, "127.0.0.1", "10.0.0.254", "::1", "192.168.1.1"];
    private static readonly string[] ServerNames = ["unknown", "localhost", "server.example.com", "srv"];

    private static readonly string[] AddressPool =
    [
        "10.0.0.1", "10.0.1.5", "192.168.1.20", "127.0.0.1", "1.2.3.4", "::1", "2001:db8::5", "::ffff:10.0.0.1", "fe80::1",
        "10.0.0.255", "172.16.5.4", "10.0.0.0", "10.1.2.3", "11.0.0.1", "192.168.0.1", "255.255.255.255", "0.0.0.0",
        "2001:db8::1", "2001:db9::1", "::", "::ffff:192.168.1.20", "1.2.3.5", "100.0.0.1", "19.0.0.1",
    ];

    private AccessTables Open(string allow, string deny, bool inNetgroups = false)
    {
        File.WriteAllText(Path.Combine(_dir, "hosts.allow"), allow, Encoding.Latin1);
        File.WriteAllText(Path.Combine(_dir, "hosts.deny"), deny, Encoding.Latin1);
        return new AccessTables(Path.Combine(_dir, "hosts.allow"), Path.Combine(_dir, "hosts.deny"),
            new AccessTablesOptions { Live = false, Netgroups = new EveryNetgroup(inNetgroups) });
    }

    /// <summary>A netgroup lookup's two outcomes: every host in every netgroup, or none in any.</summary>
    private sealed class EveryNetgroup(bool member) : INetgroups
    {
        public bool IsHostInNetgroup(string netgroup, string host) => member;
    }

    [Fact]
    public void Compile_MixedTables_NeverRefusesWhatALookupCouldGrant()
    {
        var refusedChecked = 0;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (var seed = 0; seed < 100; seed++)
        {
            var gen = new TableGenerator(seed, _dir);
            // Every other hosts.deny ends in ALL: ALL, so that most addresses are refused unless a rule holds them.
            var (allow, deny) = (gen.Table(), gen.Table() + (seed % 2 == 0 ? "ALL: ALL\n" : ""));
            using var tables = Open(allow, deny);
            using var netgroupTables = Open(allow, deny, inNetgroups: true);
            var rng = new Random(seed);
            foreach (var (daemon, port) in new[] { ("sshd", 22), ("in.ftpd", 21), ("SSHD", 0) })
            {
                var verdicts = AddressRules.Compile(tables, daemon, port);
                foreach (var address in Addresses(rng, 30))
                {
                    if (!verdicts.IsRefused(IPAddress.Parse(address)))
                        continue;
                    refusedChecked++;
                    foreach (var request in Lookups(rng, daemon, address, port))
                    {
                        foreach (var (t, netgroups) in new[] { (tables, "in no netgroup"), (netgroupTables, "in every netgroup") })
                        {
                            var (verdict, _) = Ours.Final(t.Decide(request));
                            Assert.True(verdict == "denied",
                                $"seed {seed}: {address} refused for {daemon}:{port}, but {verdict} with {request} {netgroups}\n--allow--\n{allow}--deny--\n{deny}");
                        }
                    }
                }
            }
        }
        // The check must have had something to check.
        Assert.True(refusedChecked > 300, $"only {refusedChecked} refused addresses checked");
        _output.WriteLine($"{refusedChecked} refused addresses checked in {watch.ElapsedMilliseconds} ms");
    }

    private IEnumerable<string> Addresses(Random rng, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var a = IPAddress.Parse(AddressPool[rng.Next(AddressPool.Length)]);
            if (rng.Next(3) == 0)
            {
                var bytes = a.GetAddressBytes();
                bytes[^1] = (byte)rng.Next(256);
                if (rng.Next(2) == 0)
                    bytes[^2] = (byte)rng.Next(256);
                a = new IPAddress(bytes);
            }
            yield return a.ToString();
        }
    }

    // The outcomes of every lookup libwrap could make: the corners, then a random sample of the rest.
    private static IEnumerable<AccessRequest> Lookups(Random rng, string daemon, string address, int port)
    {
        int[] ports = port == 0 ? [22, 21, 79, 0] : [port];
        foreach (var p in ports)
        {
            foreach (var name in new[] { "unknown", "paranoid", "a.example.com" })
                yield return Request(daemon, address, p, name, "unknown", null, "unknown");
            for (var i = 0; i < 25; i++)
            {
                yield return Request(daemon, address, p, ClientNames[rng.Next(ClientNames.Length)], Users[rng.Next(Users.Length)],
                    ServerAddresses[rng.Next(ServerAddresses.Length)], ServerNames[rng.Next(ServerNames.Length)]);
            }
        }
    }

    private static AccessRequest Request(string daemon, string address, int port, string name, string user, string? serverAddress, string serverName) =>
        new()
        {
            Daemon = daemon,
            ClientAddress = address,
            ClientName = name,
            ClientUser = user,
            ServerAddress = serverAddress,
            ServerName = serverName,
            ServerPort = port,
            ClientPort = 40000,
        };

    private static readonly string[] AddressTokens =
    [
        "ALL", "10.0.0.1", "10.0.1.5", "192.168.1.20", "127.0.0.1", "1.2.3.4", "255.255.255.255", "0.0.0.0", "010.0.0.1",
        "10.", "10.0.", "10.0.0.", "192.168.1.", "1.2.3.", "1.", "19.", "1.2.3.4.",
        "10.0.0.0/8", "10.0.0.0/24", "10.0.0.0/255.255.255.0", "10.0.0.0/255.255.0.255", "0.0.0.0/0.0.0.0", "192.168.0.0/16",
        "10.0.0.1/32", "172.16.0.0/12", "10.0.0.5/255.0.0.0", "10.0.0.0/255.0.255.0", "10.0.0.0/33", "10.0.0.0/0", "1.2.3.4/255.255.255.255",
        "[2001:db8::]/32", "[::1]/128", "[2001:db8::5]/128", "[::]/0", "[::ffff:10.0.0.0]/104", "[2001:db8::]/129", "[2001:db8::1]/127",
    ];

    private static readonly string[] DaemonLists = ["ALL", "sshd", "in.ftpd", "22", "21", "ALL EXCEPT in.ftpd", "sshd, in.ftpd", "ALL EXCEPT sshd"];

    private static string AddressOnlyTable(Random rng)
    {
        var sb = new StringBuilder();
        var lines = rng.Next(6);
        for (var i = 0; i < lines; i++)
        {
            var tokens = string.Join(" ", Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => AddressTokens[rng.Next(AddressTokens.Length)]));
            if (rng.Next(4) == 0)
                tokens += " EXCEPT " + AddressTokens[rng.Next(AddressTokens.Length)];
            if (rng.Next(8) == 0)
                tokens += " EXCEPT " + AddressTokens[rng.Next(AddressTokens.Length)];
            var options = rng.Next(5) switch { 0 => " : allow", 1 => " : deny", _ => "" };
            sb.Append(DaemonLists[rng.Next(DaemonLists.Length)]).Append(": ").Append(tokens).Append(options).Append('\n');
        }
        return sb.ToString();
    }

    [Fact]
    public void Compile_AddressOnlyTables_RefusesExactlyWhatTheEvaluatorRefuses()
    {
        var refused = 0;
        var granted = 0;
        for (var seed = 0; seed < 300; seed++)
        {
            var rng = new Random(seed);
            var (allow, deny) = (AddressOnlyTable(rng), AddressOnlyTable(rng));
            using var tables = Open(allow, deny);
            foreach (var (daemon, port) in new[] { ("sshd", 22), ("in.ftpd", 21) })
            {
                var verdicts = AddressRules.Compile(tables, daemon, port);
                foreach (var address in Addresses(rng, 40).Where(a => !a.StartsWith("fe80", StringComparison.Ordinal)))
                {
                    var decision = tables.Decide(Request(daemon, address, port, "unknown", "unknown", null, "unknown"));
                    var compiled = verdicts.IsRefused(IPAddress.Parse(address));
                    Assert.True(compiled == !decision.IsGranted,
                        $"seed {seed}: {address} for {daemon}:{port}: compiler {(compiled ? "refuses" : "holds")}, evaluator {decision.Verdict}\n--allow--\n{allow}--deny--\n{deny}");
                    if (compiled)
                        refused++;
                    else
                        granted++;
                }
            }
        }
        Assert.True(refused > 1000 && granted > 1000, $"refused {refused}, granted {granted}");
    }
}
