// How a forward service tells its backend who the client is: [service:X] proxy_protocol (a PROXY
// protocol header first, for backends that read one: HAProxy, nginx, Postfix, Dovecot...) and
// transparent (the backend's accept() sees the client's own address, for backends that read no
// header, sshd among them). Read and checked here; carried out by the relay (Forwarding/).
// A transparent service that cannot work on this host stops the start at its line: letting it
// run would have every connection fail at the backend, or worse, hide the client again.
using Giftwrap.Configuration;
using Giftwrap.Gate.Interop;

namespace Giftwrap.Gate.Config;

internal static unsafe class ClientAddressForBackend
{
    /// <summary>The two keys of <paramref name="section"/> (<paramref name="exec"/>: not a forward service); problems go to the file's errors with their place.</summary>
    public static (ProxyProtocolVersion Proxy, bool Transparent) Read(ConfigFile file, string section, bool exec)
    {
        var proxy = (file.Text(section, "proxy_protocol") ?? "off").ToLowerInvariant() switch
        {
            "v1" or "1" => ProxyProtocolVersion.V1,
            "v2" or "2" => ProxyProtocolVersion.V2,
            "off" or "no" or "none" => ProxyProtocolVersion.None,
            var other => Bad(file, section, $"proxy_protocol = {other}: expected v1, v2 or off"),
        };
        var transparent = file.YesNo(section, "transparent");
        // exec keeps the client's own socket: the program's getpeername() is the client already.
        if (exec && proxy != ProxyProtocolVersion.None)
            file.Error(section, "proxy_protocol", "proxy_protocol is for forward services; an exec program has the client's own socket, a trap no backend");
        if (exec && transparent)
            file.Error(section, "transparent", "transparent is for forward services; an exec program has the client's own socket, a trap no backend");
        if (transparent && !exec && CannotBindForeign() is { } why)
            file.Error(section, "transparent", $"transparent = yes cannot work here: {why}");
        return (proxy, transparent);
    }

    /// <summary>
    /// A transparent service whose clients cannot be the source of a connect to its backend: the
    /// gate's IPv6 sockets take IPv6 clients only, so a listen address of the other family than
    /// the backend's would fail every connection it takes.
    /// </summary>
    public static void CheckFamilies(ConfigFile file, string section, IReadOnlyList<System.Net.IPEndPoint> listen, System.Net.IPEndPoint? forward)
    {
        if (forward is null || !file.YesNo(section, "transparent"))
            return;
        foreach (var l in listen.Where(l => l.AddressFamily != forward.AddressFamily))
            file.Error(section, "transparent", $"transparent = yes: clients of {l} cannot be the source of a connection to the backend {forward} (another address family)");
    }

    private static ProxyProtocolVersion Bad(ConfigFile file, string section, string message)
    {
        file.Error(section, "proxy_protocol", message);
        return ProxyProtocolVersion.None;
    }

    /// <summary>
    /// Null when this process may set IP_TRANSPARENT (ip(7): CAP_NET_ADMIN or CAP_NET_RAW in the
    /// network namespace's owner), else why not: the same setsockopt every connection will need.
    /// </summary>
    private static string? CannotBindForeign()
    {
        var fd = Libc.socket(Libc.AfInet, Libc.SockStream | Libc.SockCloexec, 0);
        if (fd < 0)
            return $"socket: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(Libc.Errno)}";
        var one = 1;
        var rc = Libc.setsockopt(fd, Libc.SolIp, Libc.IpTransparent, &one, sizeof(int));
        var errno = Libc.Errno;
        _ = Libc.close(fd);
        if (rc == 0)
            return null;
        return errno == Libc.EPerm
            ? "setting IP_TRANSPARENT needs CAP_NET_ADMIN (or CAP_NET_RAW), which the gate does not have"
            : $"setting IP_TRANSPARENT: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(errno)}";
    }
}
