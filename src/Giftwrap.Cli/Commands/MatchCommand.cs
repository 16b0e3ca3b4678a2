// `giftwrap match`: tcpdmatch. Predicts how the tables answer one request (or, with
// --batch, a stream of them) and prints it the way tcpdmatch does, or as JSON.
using System.CommandLine;
using System.Net;
using Giftwrap.Decisions;
using Giftwrap.Options;
using Giftwrap.Tables;

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
        var command = new Command("match", "Predict how the tables answer a request (tcpdmatch).") { json, batch, daemon, client };
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
                await Console.Error.WriteLineAsync("usage: giftwrap match [--allow FILE] [--deny FILE] [-d] [--json] daemon[@server] [user@]client").ConfigureAwait(false);
                return 2;
            }
            return await PredictAsync(allow, deny, d, c, result.GetValue(json), ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>tcpdmatch's reading of the arguments: one request per client address (null and a message on failure).</summary>
    internal static async Task<List<AccessRequest>?> BuildRequestsAsync(string daemonArg, string clientArg, CancellationToken ct)
    {
        var (daemon, server) = Split(daemonArg);
        var (user, client) = SplitUser(clientArg);
        var baseRequest = new AccessRequest { Daemon = daemon, ClientUser = user ?? AccessRequest.Unknown };
        if (server is not null)
        {
            if (HostArgument.AsAddress(server) is { } serverAddress)
            {
                baseRequest = baseRequest with
                {
                    ServerAddress = serverAddress,
                    ServerName = await HostArgument.VerifiedNameAsync(IPAddress.Parse(serverAddress), ct).ConfigureAwait(false),
                };
            }
            else
            {
                var addresses = await HostArgument.ResolveAsync(server, ct).ConfigureAwait(false);
                if (addresses.Count == 0)
                {
                    await Console.Error.WriteLineAsync($"giftwrap: server host {server}: not found").ConfigureAwait(false);
                    return null;
                }
                baseRequest = baseRequest with { ServerName = server, ServerAddress = addresses[0].ToString() };
            }
        }
        var requests = new List<AccessRequest>();
        if (HostArgument.AsAddress(client) is { } address)
        {
            // An address given: no lookups, as tcpdmatch does.
            requests.Add(baseRequest with { ClientAddress = address, ClientName = AccessRequest.Unknown });
        }
        else if (HostArgument.IsSpecialName(client))
        {
            requests.Add(baseRequest with { ClientName = client.ToLowerInvariant() });
        }
        else
        {
            var addresses = await HostArgument.ResolveAsync(client, ct).ConfigureAwait(false);
            if (addresses.Count == 0)
            {
                await Console.Error.WriteLineAsync($"giftwrap: host {client}: not found").ConfigureAwait(false);
                return null;
            }
            foreach (var a in addresses)
            {
                var name = await HostArgument.VerifiedNameAsync(a, ct).ConfigureAwait(false);
                if (name == AccessRequest.Unknown)
                    await Console.Error.WriteLineAsync($"warning: host address {a}->name lookup failed").ConfigureAwait(false);
                requests.Add(baseRequest with { ClientAddress = a.ToString(), ClientName = name });
            }
        }
        return requests;
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

    internal static (string Daemon, string? Server) Split(string arg)
    {
        var at = arg.IndexOf('@', StringComparison.Ordinal);
        return at <= 0 ? (arg, null) : (arg[..at], arg[(at + 1)..]);
    }

    internal static (string? User, string Host) SplitUser(string arg)
    {
        var at = arg.LastIndexOf('@');
        return at <= 0 ? (null, arg) : (arg[..at], arg[(at + 1)..]);
    }

    /// <summary>What tcpdmatch prints as the access line: twist hands the connection to another program.</summary>
    internal static string Access(Decision d) =>
        d.Actions.Any(a => a is TwistAction) ? "delegated" : d.IsGranted ? "granted" : "denied";
}
