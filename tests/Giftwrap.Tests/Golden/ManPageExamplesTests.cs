// The EXAMPLES of hosts_access(5) and hosts_options(5), with the outcomes the man
// pages describe, checked against Giftwrap and against the real libwrap.
using Giftwrap.Tests.Conformance;

namespace Giftwrap.Tests.Golden;

public sealed class ManPageExamplesTests
{
    public static TheoryData<string, string, string, string> Cases => new()
    {
        // "Mostly closed": hosts.deny ALL: ALL, hosts.allow ALL: LOCAL @some_netgroup / .foobar.edu EXCEPT terminalserver.foobar.edu
        { "ALL: LOCAL @some_netgroup\nALL: .foobar.edu EXCEPT terminalserver.foobar.edu\n", "ALL: ALL\n", "in.telnetd\tpc.foobar.edu\t10.1.1.1\t-\t-\t-\t23", "granted" },
        { "ALL: LOCAL @some_netgroup\nALL: .foobar.edu EXCEPT terminalserver.foobar.edu\n", "ALL: ALL\n", "in.telnetd\tterminalserver.foobar.edu\t10.1.1.2\t-\t-\t-\t23", "denied" },
        { "ALL: LOCAL @some_netgroup\nALL: .foobar.edu EXCEPT terminalserver.foobar.edu\n", "ALL: ALL\n", "in.telnetd\tlocalhost\t127.0.0.1\t-\t-\t-\t23", "granted" },
        { "ALL: LOCAL @some_netgroup\nALL: .foobar.edu EXCEPT terminalserver.foobar.edu\n", "ALL: ALL\n", "in.telnetd\tevil.example\t203.0.113.5\t-\t-\t-\t23", "denied" },
        // "Mostly open": hosts.deny ALL EXCEPT in.fingerd: other.host.name, .other.domain
        { "", "ALL EXCEPT in.fingerd: other.host.name, .other.domain\nin.fingerd: some.host.name, .some.domain\n", "in.ftpd\tx.other.domain\t10.2.2.2\t-\t-\t-\t21", "denied" },
        { "", "ALL EXCEPT in.fingerd: other.host.name, .other.domain\nin.fingerd: some.host.name, .some.domain\n", "in.fingerd\tx.other.domain\t10.2.2.2\t-\t-\t-\t79", "granted" },
        { "", "ALL EXCEPT in.fingerd: other.host.name, .other.domain\nin.fingerd: some.host.name, .some.domain\n", "in.fingerd\tx.some.domain\t10.2.2.3\t-\t-\t-\t79", "denied" },
        // Net/mask from the pattern section.
        { "ALL: 131.155.72.0/255.255.254.0\n", "ALL: ALL\n", "sshd\t-\t131.155.73.255\t-\t-\t-\t22", "granted" },
        { "ALL: 131.155.72.0/255.255.254.0\n", "ALL: ALL\n", "sshd\t-\t131.155.74.1\t-\t-\t-\t22", "denied" },
        { "ALL: [3ffe:505:2:1::]/64\n", "ALL: ALL\n", "sshd\t-\t3ffe:505:2:1:ffff:ffff:ffff:ffff\t-\t-\t-\t22", "granted" },
        { "ALL: 131.155.\n", "ALL: ALL\n", "sshd\t-\t131.155.9.9\t-\t-\t-\t22", "granted" },
        { "ALL: .tue.nl\n", "ALL: ALL\n", "sshd\twzv.win.tue.nl\t131.155.1.1\t-\t-\t-\t22", "granted" },
        // hosts_options(5): everything in one file with ALLOW and DENY.
        { "ALL: .friendly.domain: ALLOW\nALL: ALL: DENY\n", "", "sshd\ta.friendly.domain\t10.0.0.1\t-\t-\t-\t22", "granted" },
        { "ALL: .friendly.domain: ALLOW\nALL: ALL: DENY\n", "", "sshd\tb.other.domain\t10.0.0.2\t-\t-\t-\t22", "denied" },
        { "ALL: .bad.domain: DENY\nALL: ALL: ALLOW\n", "", "sshd\tx.bad.domain\t10.0.0.3\t-\t-\t-\t22", "denied" },
        // twist bounce message for ftp.
        { "in.ftpd : ALL : twist /bin/echo 421 Some bounce message\n", "", "in.ftpd\t-\t10.0.0.4\t-\t-\t-\t21", "twist" },
        // user@host: KNOWN users only.
        { "sshd: KNOWN@ALL\n", "sshd: ALL\n", "sshd\t-\t10.0.0.5\tbob\t-\t-\t22", "granted" },
        { "sshd: KNOWN@ALL\n", "sshd: ALL\n", "sshd\t-\t10.0.0.5\t-\t-\t-\t22", "denied" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Example_GivesTheDocumentedOutcome_AndAgreesWithLibwrap(string allow, string deny, string request, string expected)
    {
        using var files = new TableFiles(allow, deny);
        using var tables = files.Open();
        var (verdict, match, _) = Ours.Ask(tables, request);
        Assert.Equal(expected, verdict);
        var libwrap = LibwrapOracle.Ask(files.Allow, files.Deny, [request])[0];
        Assert.Equal(libwrap.Verdict, verdict);
        Assert.Equal(libwrap.Match, match);
    }
}
