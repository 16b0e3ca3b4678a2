// `giftwrap match`: tcpdmatch. Predicts how the tables answer one request (or, with
// --batch, a stream of them) and prints it the way tcpdmatch does, or as JSON.
using System.CommandLine;
using Giftwrap.Checks;
using Giftwrap.Decisions;
using Giftwrap.Rules;

namespace Giftwrap.Cli.Commands;

internal static class MatchCommand
{
    public static Command Create()
    {
        var tables = new TableOptions();
        var json = new Option<bool>("--json") { Description = "Print the prediction as JSON." };
        var batch = new Option<bool>("--batch")
        {
            Description = "Read requests from stdin, one per line: daemon client_name client_addr user server_name server_addr server_port (tab-separated, - for unknown).",
        };
        var daemon = new Argument<string?>("daemon[@server]") { Arity = ArgumentArity.ZeroOrOne, Description = "The daemon process name, optionally @ the server address or name it was reached on." };
        var client = new Argument<string?>("[user@]client") { Arity = ArgumentArity.ZeroOrOne, Description = "The client address or host name (a name is resolved: one prediction per address), optionally with the user." };
        var inetd = new Option<string?>("-i") { Description = "The inetd.conf that says whether the daemon is wrapped (default /etc/inetd.conf), as tcpdmatch -i." };
        var command = new Command("match", "Predict how the tables answer a request (tcpdmatch).") { json, batch, inetd, daemon, client };
        tables.AddTo(command);
        command.SetAction(async (result, ct) =>
        {
            var (allow, deny) = tables.Resolve(result);
            TableOptions.WarnUnusual(allow, deny, Console.Error);
            if (result.GetValue(batch))
                return BatchMatcher.Run(allow, deny, Console.In, Console.Out, Console.Error);
            var d = result.GetValue(daemon);
            var c = result.GetValue(client);
            if (d is null || c is null)
            {
                await Console.Error.WriteLineAsync("usage: giftwrap match [--allow FILE] [--deny FILE] [-d] [-i inetd.conf] [--json] daemon[@server] [user@]client").ConfigureAwait(false);
                return 2;
            }
            if (!await WarnUnwrappedAsync(result.GetValue(inetd), d).ConfigureAwait(false))
                return 1;
            return await PredictAsync(allow, deny, d, c, result.GetValue(json), ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>
    /// tcpdmatch.c: warns when inetd.conf does not run the daemon through tcpd (portmap and rpcbind
    /// never are). Without an inetd.conf nothing is said (tcpdmatch would call every daemon unknown
    /// "in (null)"). False when the file given with -i cannot be read.
    /// </summary>
    private static async Task<bool> WarnUnwrappedAsync(string? path, string daemonArg)
    {
        var problems = new List<Diagnostic>();
        var conf = InetdConf.Read(path, [], problems);
        foreach (var p in problems)
            await Console.Error.WriteLineAsync(p.ToString()).ConfigureAwait(false);
        if (problems.Any(p => p.Severity == DiagnosticSeverity.Error))
            return false;
        if (conf.Path is null)
            return true;
        conf.Set("portmap", WrapStatus.Not);
        conf.Set("rpcbind", WrapStatus.Not);
        var daemon = HostArgument.SplitAt(daemonArg, '@').Before;
        daemon = daemon[(daemon.LastIndexOf('/') + 1)..];
        var status = conf.Get(daemon);
        if (status == WrapStatus.Unknown)
            await Console.Error.WriteLineAsync($"warning: {daemon}: no such process name in {conf.Path}").ConfigureAwait(false);
        else if (status == WrapStatus.Not)
            await Console.Error.WriteLineAsync($"warning: {daemon}: service possibly not wrapped").ConfigureAwait(false);
        return true;
    }

    /// <summary>tcpdmatch's reading of the arguments: one request per client address (null and a message on failure).</summary>
    internal static async Task<List<AccessRequest>?> BuildRequestsAsync(string daemonArg, string clientArg, CancellationToken ct)
    {
        var warnings = new List<string>();
        // The lookups are the C library's blocking calls, as tcpdmatch makes them.
        var requests = await Task.Run(() => BuildRequests(daemonArg, clientArg, warnings), ct).ConfigureAwait(false);
        foreach (var w in warnings)
            await Console.Error.WriteLineAsync(w).ConfigureAwait(false);
        return requests;
    }

    /// <summary>tcpdmatch.c main(): the daemon, server, user and client as tcpdmatch sets them in its request.</summary>
    internal static List<AccessRequest>? BuildRequests(string daemonArg, string clientArg, List<string> warnings)
    {
        var (daemon, server) = HostArgument.SplitAt(daemonArg, '@');
        if (daemon.StartsWith('/'))
        {
            var name = daemon[(daemon.LastIndexOf('/') + 1)..];
            warnings.Add($"warning: {daemon}: daemon name normalized to: {name}");
            daemon = name;
        }
        var (userPart, clientPart) = HostArgument.SplitAt(clientArg, '@');
        var (user, client) = clientPart is null ? (AccessRequest.Unknown, userPart) : (userPart, clientPart);
        // An empty user is looked up (eval_user): tcpdmatch's scaffold rfc931() says unknown.
        var baseRequest = new AccessRequest
        {
            Daemon = HostArgument.Sanitised(daemon),
            ClientUser = user.Length == 0 ? AccessRequest.Unknown : HostArgument.Sanitised(user),
        };
        server ??= AccessRequest.Unknown;
        if (!HostArgument.NotInAddr(server) || HostArgument.HostnameKnown(server))
        {
            var addresses = Warned(warnings, w => HostLookups.FindInetAddr(server, w));
            if (addresses is null)
                return null;
            foreach (var a in addresses)
            {
                var name = Warned(warnings, w => HostLookups.VerifiedName(a, w));
                if (name == AccessRequest.Unknown)
                    warnings.Add($"warning: host address {a}->name lookup failed");
                baseRequest = baseRequest with { ServerAddress = AccessRequest.Plain(a), ServerName = name };
            }
            if (addresses.Count > 1)
            {
                warnings.Add($"Error: {server} has more than one address\nPlease specify an address instead");
                return null;
            }
        }
        else
        {
            // unknown or paranoid, in the spelling given.
            baseRequest = baseRequest with { ServerName = HostArgument.Field(server) };
        }
        // A dotted quad or an IPv6 literal is taken as typed, with no lookups: the effect of a failed name lookup.
        if (HostArgument.IsDotQuad(client) || HostArgument.IsIpv6Literal(client))
            return [baseRequest with { ClientAddress = HostArgument.Field(client), ClientName = AccessRequest.Unknown }];
        if (HostArgument.NotInAddr(client) && !HostArgument.HostnameKnown(client))
            return [baseRequest with { ClientName = HostArgument.Field(client) }];
        var clients = Warned(warnings, w => HostLookups.FindInetAddr(client, w));
        if (clients is null)
            return null;
        var requests = new List<AccessRequest>();
        foreach (var a in clients)
        {
            var name = AccessRequest.Unknown;
            // getnameinfo() does no reverse lookup of link-local IPv6 addresses: tcpdmatch skips them.
            if (!a.IsIPv6LinkLocal)
            {
                name = Warned(warnings, w => HostLookups.VerifiedName(a, w));
                if (name == AccessRequest.Unknown)
                    warnings.Add($"warning: host address {a}->name lookup failed");
            }
            requests.Add(baseRequest with { ClientAddress = AccessRequest.Plain(a), ClientName = name });
        }
        return requests;
    }

    /// <summary>Runs a lookup and passes its libwrap warnings on with tcpd_warn's "warning: " prefix.</summary>
    private static T Warned<T>(List<string> warnings, Func<List<string>, T> lookup)
    {
        var found = new List<string>();
        var result = lookup(found);
        warnings.AddRange(found.Select(w => "warning: " + w));
        return result;
    }

    private static async Task<int> PredictAsync(string allow, string deny, string daemonArg, string clientArg, bool json, CancellationToken ct)
    {
        var requests = await BuildRequestsAsync(daemonArg, clientArg, ct).ConfigureAwait(false);
        if (requests is null)
            return 1;
        using var tables = TableOptions.Compile(allow, deny);
        var predictions = requests.Select(r => (Request: r, Decision: tables.Decide(r))).ToList();
        if (json)
        {
            Console.Out.Write(MatchOutput.Json(predictions));
            Console.Out.WriteLine();
            return 0;
        }
        for (var i = 0; i < predictions.Count; i++)
        {
            if (i > 0)
                Console.Out.WriteLine();
            var (r, d) = predictions[i];
            foreach (var w in d.Warnings)
                await Console.Error.WriteLineAsync(w.ToLogLine()).ConfigureAwait(false);
            Console.Out.Write(MatchOutput.Text(r, d));
        }
        return 0;
    }

    /// <summary>What tcpdmatch prints as the access line: twist hands the connection to another program.</summary>
    internal static string Access(Decision d) =>
        VerdictWords.Of(d);
}
