// Lockout protection: the administrator's own way in must stay open. The address of
// the current SSH session ($SSH_CONNECTION) and the addresses listed under
// [safety] keep must still be granted; if not, the rule that now refuses them is named.
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Explain;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Checks;

/// <summary>Who must keep access: a daemon, a client address, where the requirement comes from.</summary>
internal sealed record KeepRule(string Daemon, string Address, string Source, string? ServerAddress = null, int ServerPort = 0);

/// <summary>Checks that the kept clients are still granted.</summary>
internal static class LockoutCheck
{
    /// <summary>The SSH session's client, from $SSH_CONNECTION ("client port server port").</summary>
    public static KeepRule? FromSshConnection(string? value)
    {
        var f = value?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (f is null || f.Length < 4 || !IPAddress.TryParse(f[0], out var client))
            return null;
        int.TryParse(f[3], out var port);
        return new KeepRule("sshd", AccessRequest.Plain(client), "$SSH_CONNECTION (this SSH session)", f[2], port);
    }

    /// <summary>
    /// Reads `[safety] keep` entries: `daemon@address`, `daemon@net/len` or an address (daemon sshd).
    /// A network is checked at its first and last address.
    /// </summary>
    public static List<KeepRule> ParseKeep(string text, string source, List<Diagnostic> problems)
    {
        var result = new List<KeepRule>();
        foreach (var item in text.Split([' ', '\t', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            var at = item.IndexOf('@', StringComparison.Ordinal);
            var daemon = at > 0 ? item[..at] : "sshd";
            var host = at > 0 ? item[(at + 1)..] : item;
            if (IPNetwork.TryParse(host, out var net))
            {
                foreach (var a in Ends(net))
                    result.Add(new KeepRule(daemon, a, $"{source}: {item}"));
            }
            else if (IPAddress.TryParse(host.Trim('[', ']'), out var addr))
            {
                result.Add(new KeepRule(daemon, AccessRequest.Plain(addr), $"{source}: {item}"));
            }
            else
            {
                problems.Add(new Diagnostic(source, 0, 0, DiagnosticSeverity.Error, "keep", $"keep entry \"{item}\" is not daemon@address or daemon@net/len"));
            }
        }
        return result;
    }

    /// <summary>One error per kept client the tables refuse, naming the rule that refuses it.</summary>
    public static List<Diagnostic> Check(AccessTables tables, IEnumerable<KeepRule> keep)
    {
        var problems = new List<Diagnostic>();
        foreach (var k in keep)
        {
            var request = new AccessRequest
            {
                Daemon = k.Daemon,
                ClientAddress = k.Address,
                ClientName = AccessRequest.Unknown,
                ClientUser = AccessRequest.Unknown,
                ServerAddress = k.ServerAddress,
                ServerPort = k.ServerPort,
            };
            var x = Explainer.Explain(tables, request);
            if (x.Decision.IsGranted && x.Decision.AclExec is null)
                continue;
            var m = x.Decision.Match;
            var where = m is null ? "no rule (an unreadable table or a broken line)" : $"{m.File} line {m.Line}";
            var rule = m is null ? null : x.Rules.FirstOrDefault(r => r.File == m.File && r.Line == m.Line)?.Text;
            problems.Add(new Diagnostic(m?.File ?? tables.DenyPath, m?.Line ?? 0, 1, DiagnosticSeverity.Error, "lockout",
                $"lockout: {k.Daemon} from {k.Address} ({k.Source}) would be {(x.Decision.IsGranted ? "subject to aclexec" : "refused")} by {where}" + (rule is null ? "" : $": {rule}"),
                $"grant {k.Daemon}: {k.Address} in hosts.allow above that rule"));
        }
        return problems;
    }

    private static IEnumerable<string> Ends(IPNetwork net)
    {
        var bytes = net.BaseAddress.GetAddressBytes();
        yield return AccessRequest.Plain(new IPAddress(bytes));
        var hostBits = bytes.Length * 8 - net.PrefixLength;
        for (var i = bytes.Length - 1; i >= 0 && hostBits > 0; i--)
        {
            var take = Math.Min(8, hostBits);
            bytes[i] |= (byte)((1 << take) - 1);
            hostBits -= take;
        }
        yield return AccessRequest.Plain(new IPAddress(bytes));
    }

}
