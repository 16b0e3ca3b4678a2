// [service:X] transparent = yes: the gate connects to its backend from the client's own address,
// so the backend's accept() sees the client (sshd's logs, PerSourcePenalties, MaxStartups). Tested
// in network namespaces the test creates: the gate and its backend (socat, printing the peer it
// accepted) in one, the client in another, joined by a veth pair; the return path is set up by
// examples/transparent/routing.sh, the script the README tells administrators to run. And the
// configuration side: the option stops the start at its line where it cannot work.
using System.Diagnostics;

namespace Giftwrap.Cli.Tests;

public sealed class TransparentForwardTests
{
    // Runs as `unshare -n sh SCRIPT DIR DLL ROUTING`, in the gate's new namespace; the client's
    // namespace is held by a sleep that nsenter enters. Every process it starts is stopped by pid.
    private const string Script = """
        set -e
        D=$1; DLL=$2; ROUTING=$3
        ip link set lo up
        unshare -n sleep 60 & HOLD=$!
        GATE=; BACK4=; BACK6=
        trap 'kill $HOLD $GATE $BACK4 $BACK6 2>/dev/null; wait' EXIT
        for i in $(seq 50); do [ "$(readlink /proc/$HOLD/ns/net)" != "$(readlink /proc/self/ns/net)" ] && break; sleep 0.05; done
        ip link add gw0 type veth peer name cl0 netns $HOLD
        ip addr add 10.231.0.1/24 dev gw0; ip addr add fd00:231::1/64 dev gw0 nodad; ip link set gw0 up
        nsenter -t $HOLD -n sh -c 'ip link set lo up; ip addr add 10.231.0.2/24 dev cl0; ip addr add fd00:231::2/64 dev cl0 nodad; ip link set cl0 up'
        sh "$ROUTING" add 127.0.0.1 7000
        sh "$ROUTING" add ::1 7000
        socat TCP4-LISTEN:7000,bind=127.0.0.1,reuseaddr,fork SYSTEM:'echo "backend accepted $SOCAT_PEERADDR"' & BACK4=$!
        socat TCP6-LISTEN:7000,bind=[::1],reuseaddr,fork SYSTEM:'echo "backend accepted $SOCAT_PEERADDR"' & BACK6=$!
        dotnet "$DLL" serve --config "$D/gate.conf" --drain-seconds 1 > "$D/gate.out" 2>&1 & GATE=$!
        for i in $(seq 100); do grep -q 'listening on' "$D/gate.out" && break; sleep 0.1; done
        nsenter -t $HOLD -n socat -T5 -u TCP4:10.231.0.1:2222,bind=10.231.0.2 -
        nsenter -t $HOLD -n socat -T5 -u TCP6:[fd00:231::1]:2222,bind=[fd00:231::2] -
        sh "$ROUTING" del 127.0.0.1 7000
        sh "$ROUTING" del ::1 7000
        echo "rules left: $(ip -4 rule show | grep -c 'lookup 231' || true) $(ip -6 rule show | grep -c 'lookup 231' || true)"
        """;

    private static string Routing()
    {
        // The repository's own example, found from the test's build output upwards.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "examples", "transparent", "routing.sh");
            if (File.Exists(script))
                return script;
        }
        throw new FileNotFoundException("examples/transparent/routing.sh not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task Transparent_InNetworkNamespaces_BackendAcceptSeesTheClientsAddress_Ipv4AndIpv6()
    {
        using var dir = new TempDir();
        dir.Write("hosts.allow", "ssh: ALL\n");
        dir.Write("hosts.deny", "ALL: ALL\n");
        dir.Write("gate.conf", $"""
            [tables]
            allow = {dir.Path}/hosts.allow
            deny = {dir.Path}/hosts.deny

            [log]
            syslog = off

            [service:ssh]
            listen = 10.231.0.1:2222
            forward = 127.0.0.1:7000
            transparent = yes

            [service:ssh6]
            listen = [fd00:231::1]:2222
            daemon = ssh
            forward = [::1]:7000
            transparent = yes

            """);
        var script = dir.Write("scenario.sh", Script);
        var psi = new ProcessStartInfo("unshare", ["-n", "sh", script, dir.Path, CliRunner.Dll, Routing()])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            try
            {
                await p.WaitForExitAsync(cts.Token);
            }
            catch (OperationCanceledException)
            {
                // Bounded in time: the scenario's own processes die with its namespace holder's kill.
                p.Kill(entireProcessTree: true);
                throw new TimeoutException("the namespace scenario did not finish in 90 s");
            }
        }
        var output = await stdout;
        var gate = File.Exists(Path.Combine(dir.Path, "gate.out")) ? await File.ReadAllTextAsync(Path.Combine(dir.Path, "gate.out")) : "";
        var context = $"stdout:\n{output}\nstderr:\n{await stderr}\ngate:\n{gate}";
        Assert.True(p.ExitCode == 0, context);
        // Without transparent the backend would see 127.0.0.1 and ::1, the gate's own addresses.
        Assert.Contains("backend accepted 10.231.0.2\n", output, StringComparison.Ordinal);
        Assert.Contains("backend accepted [fd00:0231:0000:0000:0000:0000:0000:0002]\n", output, StringComparison.Ordinal);
        Assert.Contains("ssh: connect from 10.231.0.2", gate, StringComparison.Ordinal);
        Assert.Contains("ssh: connect from fd00:231::2", gate, StringComparison.Ordinal);
        // routing.sh del undoes what add did.
        Assert.Contains("rules left: 0 0", output, StringComparison.Ordinal);
    }

    private const string Conf = """
        [tables]
        allow = /nonexistent/hosts.allow
        deny = /nonexistent/hosts.deny

        [service:ssh]
        listen = 127.0.0.1:2222
        forward = 127.0.0.1:7000
        transparent = yes

        """;

    [Fact]
    public async Task Transparent_WithoutCapNetAdmin_StopsTheStartAtItsLine()
    {
        using var dir = new TempDir();
        var conf = dir.Write("gate.conf", Conf);
        // setpriv (util-linux) drops the two capabilities that allow IP_TRANSPARENT from root's bounding set.
        var psi = new ProcessStartInfo("setpriv", ["--bounding-set=-net_admin,-net_raw", "--inh-caps=-net_admin,-net_raw", "dotnet", CliRunner.Dll, "serve", "--config", conf, "--check-config"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        var said = await stderr;
        Assert.Equal(78, p.ExitCode);
        Assert.Contains($"{conf}:8:15: transparent = yes cannot work here: setting IP_TRANSPARENT needs CAP_NET_ADMIN", said, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", said, StringComparison.Ordinal);
        // With the capability (root, as the tests run) the same file is accepted.
        var ok = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.DoesNotContain("transparent", ok.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("proxy_protocol = v3\n", "8:18: proxy_protocol = v3: expected v1, v2 or off")]
    [InlineData("transparent = maybe\n", "8:15: ")]
    public void BadValues_AreErrorsAtTheirPlace(string line, string expected)
    {
        using var dir = new TempDir();
        var conf = dir.Write("gate.conf", Conf.Replace("transparent = yes\n", line, StringComparison.Ordinal));
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, r.ExitCode);
        Assert.Contains($"{conf}:{expected}", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Transparent_ListenAndBackendOfDifferentFamilies_IsAnErrorAtItsLine()
    {
        using var dir = new TempDir();
        var conf = dir.Write("gate.conf", Conf.Replace("listen = 127.0.0.1:2222", "listen = 127.0.0.1:2222 [::1]:2222", StringComparison.Ordinal));
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, r.ExitCode);
        Assert.Contains($"{conf}:8:15: transparent = yes: clients of [::1]:2222 cannot be the source of a connection to the backend 127.0.0.1:7000", r.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("clients of 127.0.0.1:2222", r.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void ExecService_RefusesProxyProtocolAndTransparent_ItHasTheClientsSocket()
    {
        using var dir = new TempDir();
        var conf = dir.Write("gate.conf", """
            [service:x]
            listen = 127.0.0.1:2222
            exec = /bin/cat
            proxy_protocol = v2
            transparent = yes

            """);
        var r = CliRunner.Run(dir.Path, "serve", "--config", conf, "--check-config");
        Assert.Equal(78, r.ExitCode);
        Assert.Contains($"{conf}:4:18: proxy_protocol is for forward services", r.Stderr, StringComparison.Ordinal);
        Assert.Contains($"{conf}:5:15: transparent is for forward services", r.Stderr, StringComparison.Ordinal);
    }
}
