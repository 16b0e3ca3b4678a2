// The table reader and evaluator: hosts.allow and hosts.deny (the input split at "\n%%\n") written
// to files, compiled, checked as `giftwrap check --no-dns` does, and a few requests decided, some
// with lookups answered by a fixed resolver (names, a paranoid name, an ident user).
using Giftwrap.Checks;
using Giftwrap.Decisions;
using Giftwrap.Tables;

namespace Giftwrap.Fuzz;

public static class TablesHarness
{
    private static readonly AccessRequest[] Requests =
    [
        new() { Daemon = "sshd", ClientAddress = "10.9.8.7", ClientName = "host.example.com", ClientUser = "bob", ServerPort = 22, ClientPort = 40000 },
        new() { Daemon = "in.telnetd", ClientAddress = "::ffff:192.168.1.5", ServerAddress = "192.168.1.1", ServerPort = 23, ClientPort = 1023 },
        new() { Daemon = "vsftpd", ClientAddress = "2001:db8::1", ServerAddress = "2001:db8::2", ServerPort = 21, ClientPort = 50000, CanLookUp = true },
        new() { Daemon = "sendmail", ClientAddress = "203.0.113.9", ServerAddress = "127.0.0.1", ServerPort = 25, ClientPort = 6000, CanLookUp = true },
    ];

    public static void Run(byte[] input)
    {
        var (allow, deny) = Harnesses.Split(input);
        var allowPath = Path.Combine(Harnesses.Scratch, "hosts.allow");
        var denyPath = Path.Combine(Harnesses.Scratch, "hosts.deny");
        File.WriteAllBytes(allowPath, allow);
        File.WriteAllBytes(denyPath, deny);
        var options = new AccessTablesOptions { Live = false, Netgroups = FixedFacts.Instance, Accounts = FixedFacts.Instance };
        using (var tables = new AccessTables(allowPath, denyPath, options))
        {
            foreach (var request in Requests)
            {
                var decision = request.CanLookUp
                    ? tables.DecideAsync(request, FixedFacts.Instance).AsTask().GetAwaiter().GetResult().Decision
                    : tables.Decide(request);
                if (decision.Verdict == Verdict.NeedsLookup)
                    throw new InvalidOperationException("a decision with every lookup answered still needs one");
                _ = decision.ToString();
            }
        }
        var report = TableChecker.Check(allowPath, denyPath, new CheckOptions { Accounts = FixedFacts.Instance });
        _ = report.Diagnostics.Count;
    }
}

/// <summary>Lookups and system databases with fixed answers: the harness must not depend on the machine's DNS or NSS.</summary>
internal sealed class FixedFacts : IRequestLookups, INetgroups, IAccounts
{
    public static readonly FixedFacts Instance = new();

    public ValueTask<string> HostNameAsync(string address, CancellationToken cancellationToken) =>
        ValueTask.FromResult(address.Contains(':', StringComparison.Ordinal) ? AccessRequest.Paranoid : "client.example.org");

    public ValueTask<string> UserAsync(AccessRequest request, TimeSpan timeout, CancellationToken cancellationToken) =>
        ValueTask.FromResult(request.ServerPort == 25 ? AccessRequest.Unknown : "alice");

    public bool IsHostInNetgroup(string netgroup, string host) => netgroup.Length % 2 == 0;

    public bool UserExists(string name) => name is "root" or "nobody" or "alice";

    public bool GroupExists(string name) => name is "root" or "nogroup";
}
