// The state of one evaluation: the request, the facts found so far (libwrap's
// eval_* functions), the warnings met, and the first lookup that was missing.
// One per decision; patterns read it, they never perform lookups themselves.
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Decisions;

/// <summary>The facts a rule consulted that may need a lookup.</summary>
[Flags]
internal enum LookupUse
{
    /// <summary>Only addresses and the daemon name.</summary>
    None = 0,
    /// <summary>The client host name (reverse DNS).</summary>
    ClientName = 1,
    /// <summary>The server host name.</summary>
    ServerName = 2,
    /// <summary>The client user (RFC 1413).</summary>
    ClientUser = 4,
}

internal sealed class EvalContext
{
    public static readonly TimeSpan DefaultRfc931Timeout = TimeSpan.FromSeconds(10);

    public EvalContext(AccessRequest request, PatternFileCache files, INetgroups netgroups, IAccounts accounts)
    {
        Request = request;
        Files = files;
        Netgroups = netgroups;
        Accounts = accounts;
        Daemon = AccessRequest.Cut(request.Daemon);
        ClientAddress = Address(request.ClientAddress);
        ServerAddress = Address(request.ServerAddress);
        ClientAddressShown = Shown(request.ClientAddress);
        ServerAddressShown = Shown(request.ServerAddress);
    }

    // libwrap compares an IPv4-mapped address as IPv4 but keeps host->addr as it was set: tcpdmatch's
    // typed "::ffff:127.0.0.1" stays so in %a, %A and eval_hostinfo() (tcpdmatch.c request_set RQ_CLIENT_ADDR).
    // A live connection's address is already plain IPv4 (AccessRequest.ForConnection), as tcpd shows it.
    private static string Shown(string? text) => text is { Length: > 0 } ? AccessRequest.Cut(text) : AccessRequest.Unknown;

    /// <summary>The address as libwrap compares it: an IPv4-mapped IPv6 address becomes plain IPv4.</summary>
    internal static string Address(string? text)
    {
        if (text is not { Length: > 0 })
            return AccessRequest.Unknown;
        var unmapped = Patterns.StringPattern.Unmapped(text);
        return AccessRequest.Cut(unmapped.Length == text.Length ? text : unmapped.ToString());
    }

    public AccessRequest Request { get; }
    public PatternFileCache Files { get; }
    public INetgroups Netgroups { get; }
    public IAccounts Accounts { get; }
    public string Daemon { get; }
    public string ClientAddress { get; }
    public string ServerAddress { get; }

    /// <summary>The client address as the request gave it, for expansions (%a, and %h/%c without a name).</summary>
    public string ClientAddressShown { get; }

    /// <summary>The server address as the request gave it, for expansions (%A, and %H/%s without a name).</summary>
    public string ServerAddressShown { get; }

    /// <summary>The table and line being evaluated, for warnings.</summary>
    public string File { get; set; } = "";
    public int Line { get; set; }

    /// <summary>Depth of /file pattern nesting, bounded so a file naming itself cannot loop.</summary>
    public int FileDepth { get; set; }

    /// <summary>Patterns of /file lists tried so far, bounded by FilePattern.MaxSteps.</summary>
    public long FileSteps { get; set; }

    /// <summary>
    /// False on a thread that must not block (the gate's event loops): a rule that needs the system's
    /// netgroups or accounts (NSS sources that may be remote) then stops the evaluation with
    /// <see cref="OffLoop"/> pending, and the decision is made the long way, as for DNS and ident.
    /// </summary>
    public bool MayBlock { get; init; } = true;

    /// <summary>
    /// The pending "lookup" of a netgroup or account on a thread that must not block. Never seen outside
    /// <see cref="Tables.AccessTables.TryDecideWithoutWaiting"/> (which then answers false): the long way may block.
    /// </summary>
    internal const LookupKind OffLoop = (LookupKind)(-1);

    /// <summary>True when the evaluation may call a system lookup now; else asks for the long way.</summary>
    public bool MayLookUpSystem()
    {
        if (MayBlock)
            return true;
        Need(OffLoop, default);
        return false;
    }

    public LookupKind Pending { get; private set; }
    public TimeSpan PendingTimeout { get; private set; }
    public TimeSpan Rfc931Timeout { get; set; } = DefaultRfc931Timeout;

    public List<Diagnostic>? Warnings { get; private set; }

    /// <summary>Set when evaluation met something that must refuse access (fail closed).</summary>
    public bool Failed { get; private set; }

    /// <summary>An error that refuses access, as tcpd_jump() does.</summary>
    public void Error(string code, string message)
    {
        Warnings ??= [];
        Warnings.Add(new Diagnostic(File, Line, 0, DiagnosticSeverity.Error, code, message));
    }

    /// <summary>Stops the search and refuses access.</summary>
    public void Fail(string code, string message)
    {
        Error(code, message);
        Failed = true;
    }

    /// <summary>The request's own fields that an expansion sanitised in place (percent_x()).</summary>
    public SanitisedFields Sanitised { get; set; }

    /// <summary>
    /// Set when libwrap's process would have exited in the middle of the options (percent_x's
    /// "expansion too long"): the search ends, access is refused, and nothing after it happens.
    /// </summary>
    public bool Exited { get; private set; }

    /// <summary>Warns, then ends the evaluation as libwrap's exit(0) does.</summary>
    public void Exit(string code, string message)
    {
        Warn(code, message);
        Exited = true;
    }

    public void Warn(string code, string message)
    {
        Warnings ??= [];
        Warnings.Add(new Diagnostic(File, Line, 0, DiagnosticSeverity.Warning, code, message));
    }

    public string Host(bool server) => server ? ServerAddress : ClientAddress;

    /// <summary>The address as expansions show it (see <see cref="ClientAddressShown"/>).</summary>
    public string HostShown(bool server) => server ? ServerAddressShown : ClientAddressShown;

    /// <summary>Facts consulted so far (for explain): which lookups a rule needed.</summary>
    public LookupUse Used { get; set; }

    // Counts accesses to facts that may be looked up, so re-evaluations line up with the first pass.
    private int _step;

    public int PendingStep { get; private set; }
    public string PendingFile { get; private set; } = "";
    public int PendingLine { get; private set; }
    public int PendingWarnings { get; private set; }

    public string HostName(bool server)
    {
        _step++;
        Used |= server ? LookupUse.ServerName : LookupUse.ClientName;
        var name = server ? Request.ServerName : Request.ClientName;
        if (name is not null)
            return AccessRequest.Cut(name);
        if (Request.CanLookUp && Host(server) != AccessRequest.Unknown)
            Need(server ? LookupKind.ServerName : LookupKind.ClientName, default);
        return AccessRequest.Unknown;
    }

    /// <summary>eval_user(): the client user; looked up only when both endpoints are known.</summary>
    public string User()
    {
        _step++;
        Used |= LookupUse.ClientUser;
        if (Request.ClientUser is { } user)
            return AccessRequest.Cut(user);
        if (Request.CanLookUp && ClientAddress != AccessRequest.Unknown && ServerAddress != AccessRequest.Unknown)
            Need(LookupKind.ClientUser, Rfc931Timeout);
        return AccessRequest.Unknown;
    }

    /// <summary>Whether the name is known without a lookup (eval_hostinfo without ALWAYS_HOSTNAME).</summary>
    public bool NameLookedUp(bool server)
    {
        var step = ++_step;
        return (server ? Request.ServerName : Request.ClientName) is not null
            && step >= (server ? Request.ServerNameStep : Request.ClientNameStep);
    }

    /// <summary>Whether the user is known at this point of the evaluation (eval_client's test), without a lookup.</summary>
    public string? UserKnown()
    {
        var step = ++_step;
        return Request.ClientUser is { } u && step >= Request.ClientUserStep ? AccessRequest.Cut(u) : null;
    }

    private void Need(LookupKind kind, TimeSpan timeout)
    {
        if (Pending == LookupKind.None)
        {
            Pending = kind;
            PendingTimeout = timeout;
            PendingStep = _step;
            PendingFile = File;
            PendingLine = Line;
            PendingWarnings = Warnings?.Count ?? 0;
        }
    }
}
