// The two inetd.conf readers: `check -i`'s (which services are wrapped, as tcpdchk's inet_cfg()) and
// the gate's `serve --inetd` (which stream/tcp nowait lines become services). The input up to
// "\n%%\n" is inetd.conf, the rest the services(5) file the gate resolves service names with.
using Giftwrap.Rules;

namespace Giftwrap.Fuzz;

public static class InetdHarness
{
    public static void Run(byte[] input)
    {
        var (conf, services) = Harnesses.Split(input);
        var confPath = Path.Combine(Harnesses.Scratch, "inetd.conf");
        var servicesPath = Path.Combine(Harnesses.Scratch, "services");
        File.WriteAllBytes(confPath, conf);
        File.WriteAllBytes(servicesPath, services);
        var diagnostics = new List<Diagnostic>();
        var wrapped = Checks.InetdConf.Read(confPath, ["giftwrap"], diagnostics);
        _ = wrapped.Get("telnet");
        _ = wrapped.WithLibwrapPrograms().Get("in.ftpd");
        var errors = new List<string>();
        var skipped = new List<string>();
        _ = Gate.Config.InetdConf.Read(confPath, errors, skipped, servicesPath);
    }
}
