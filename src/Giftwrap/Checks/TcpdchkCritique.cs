// tcpdchk's own criticism of each list and token (tcpdchk.c: check_daemon_list,
// check_client_list, check_daemon, check_user, check_host): lists that are empty or
// end in EXCEPT, reserved words, FAIL, names beginning or ending with '.', '@' or '/',
// net/mask forms it cannot read, unknown netgroups, host names that do not resolve or
// resolve badly, daemons that inetd.conf does not wrap. The DNS and netgroup questions
// go through ICheckLookups: the core asks nothing of the network itself. Word
// comparisons are case-blind because tcpd.h's STR_EQ is strcasecmp().
using Giftwrap.Patterns;
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Checks;

/// <summary>What check_dns() found for one host: its address count and the warnings on the way.</summary>
internal sealed record HostReport(int Addresses, IReadOnlyList<string> Warnings);

/// <summary>The name service questions tcpdchk asks: DNS (check_dns) and netgroups (getnetgrent).</summary>
internal interface ICheckLookups
{
    /// <summary>check_dns(): resolves <paramref name="host"/> and verifies each address's name both ways.</summary>
    HostReport Host(string host);

    /// <summary>True when the netgroup exists and has at least one member.</summary>
    bool NetgroupExists(string name);
}

/// <summary>The per-token findings of tcpdchk, kept for one check run (a daemon name is reported once).</summary>
internal sealed class TcpdchkCritique(ICheckLookups? lookups, InetdConf inetd)
{
    // tcpdchk.c's strtok() separators: no '\r', unlike hosts_access.c's.
    private const string Separators = ", \t\n";
    private readonly Dictionary<string, HostReport> _hosts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _openFiles = new(StringComparer.Ordinal);
    // Pattern files already checked, with the patterns a client matching none of them makes a decision try
    // (FilePattern.MaxSteps) and why the file could not be read: a file's findings are at its own lines, so a
    // second walk would only repeat them, and lists that name one another many times over would take
    // exponentially many walks.
    private readonly Dictionary<string, (long Steps, string? Problem)> _checkedFiles = new(StringComparer.Ordinal);
    private long _subSteps;

    private string _file = "";
    private int _line;
    private int _column;
    private List<Diagnostic> _into = [];

    /// <summary>Critiques the daemon list and the client list of one rule (as check_daemon_list and check_client_list).</summary>
    public void Rule(string daemonList, string clientList, int clientOffset, string file, int line, List<Diagnostic> into)
    {
        (_file, _line, _column, _into) = (file, line, 1, into);
        var daemons = 0;
        foreach (var (cp, offset) in Words(daemonList, Separators, 0))
        {
            _column = offset + 1;
            if (Ascii.EqualsIgnoreCase(cp, "EXCEPT"))
            {
                daemons = 0;
                continue;
            }
            daemons++;
            var at = cp.Length > 1 ? Tokens.SplitAt(cp, '@', 1) : -1;
            if (at >= 0)
            {
                _column = offset + at + 2;
                if (CheckHost(cp[(at + 1)..]) > 1)
                    Warn($"host {cp[(at + 1)..]} has more than one address (consider using an address instead)");
                _column = offset + 1;
            }
            CheckDaemon(at >= 0 ? cp[..at] : cp);
        }
        _column = 1;
        if (daemons == 0)
            Warn("daemon list is empty or ends in EXCEPT");
        var clients = 0;
        foreach (var (cp, offset) in Words(clientList, Separators, clientOffset))
        {
            _column = offset + 1;
            if (Ascii.EqualsIgnoreCase(cp, "EXCEPT"))
            {
                clients = 0;
                continue;
            }
            clients++;
            var at = cp.Length > 1 ? Tokens.SplitAt(cp, '@', 1) : -1;
            if (at >= 0)
            {
                CheckUser(cp[..at]);
                _column = offset + at + 2;
                CheckHost(cp[(at + 1)..]);
            }
            else
            {
                CheckHost(cp);
            }
        }
        _column = clientOffset + 1;
        if (clients == 0)
            Warn("client list is empty or ends in EXCEPT");
    }

    /// <summary>strtok(): the words between separators, with their offsets.</summary>
    private static IEnumerable<(string Word, int Offset)> Words(string text, string separators, int baseOffset)
    {
        var i = 0;
        while (i < text.Length)
        {
            while (i < text.Length && separators.Contains(text[i], StringComparison.Ordinal))
                i++;
            var start = i;
            while (i < text.Length && !separators.Contains(text[i], StringComparison.Ordinal))
                i++;
            if (i > start)
                yield return (text[start..i], baseOffset + start);
        }
    }

    private void CheckDaemon(string pat)
    {
        if (pat.Length == 0)
            return;
        if (NameForm(pat, "daemon name"))
            return;
        if (Ascii.EqualsIgnoreCase(pat, "ALL") || Ascii.EqualsIgnoreCase(pat, "unknown"))
            return;
        if (Fail(pat))
            return;
        if (Reserved(pat))
        {
            Warn($"{pat}: daemon name may be reserved word");
            return;
        }
        switch (inetd.Get(pat))
        {
            case WrapStatus.Unknown:
                // Without an inetd.conf tcpdchk still calls every name outside its libwrap list unknown
                // ("in (null)"); with the gate, xinetd or systemd there is none, so that is only a note.
                Warn($"{pat}: no such process name in {inetd.Describe()}", inetd.Path is null ? DiagnosticSeverity.Info : DiagnosticSeverity.Warning);
                inetd.Set(pat, WrapStatus.Yes);
                break;
            case WrapStatus.Not:
                Warn($"{pat}: service possibly not wrapped");
                inetd.Set(pat, WrapStatus.Yes);
                break;
        }
    }

    private void CheckUser(string pat)
    {
        if (pat.Length == 0 || NameForm(pat, "user name"))
            return;
        if (Ascii.EqualsIgnoreCase(pat, "ALL") || Ascii.EqualsIgnoreCase(pat, "unknown") || Ascii.EqualsIgnoreCase(pat, "KNOWN"))
            return;
        if (!Fail(pat) && Reserved(pat))
            Warn($"{pat}: user name may be reserved word");
    }

    /// <summary>The four name-shape warnings check_daemon and check_user share; true when one applied.</summary>
    private bool NameForm(string pat, string what)
    {
        var problem = pat[0] switch
        {
            '@' => $"{what} begins with \"@\"",
            '/' => $"{what} begins with \"/\"",
            '.' => $"{what} begins with dot",
            _ => pat[^1] == '.' ? $"{what} ends in dot" : null,
        };
        if (problem is not null)
            Warn($"{pat}: {problem}");
        return problem is not null;
    }

    private bool Fail(string pat)
    {
        if (!Ascii.EqualsIgnoreCase(pat, "FAIL"))
            return false;
        Warn("FAIL is no longer recognized (use EXCEPT or DENY instead)");
        return true;
    }

    private static bool Reserved(string pat) =>
        Ascii.EqualsIgnoreCase(pat, "unknown") || Ascii.EqualsIgnoreCase(pat, "KNOWN") || Ascii.EqualsIgnoreCase(pat, "paranoid")
        || Ascii.EqualsIgnoreCase(pat, "ALL") || Ascii.EqualsIgnoreCase(pat, "LOCAL");

    /// <summary>check_host(): the host part of a pattern; returns its address count (1 unless DNS says more).</summary>
    private int CheckHost(string pat)
    {
        if (pat.Length == 0)
            return 1;
        if (pat[0] == '@')
        {
            if (lookups is not null && !lookups.NetgroupExists(pat[1..]))
                Warn($"{pat[1..]}: unknown or empty netgroup");
            return 1;
        }
        if (pat[0] == '/')
        {
            _subSteps = PatternFile(pat);
            return 1;
        }
        var slash = Tokens.SplitAt(pat, '/');
        if (slash >= 0)
        {
            NetMask(pat[..slash], pat[(slash + 1)..]);
            return 1;
        }
        if (Fail(pat) || Reserved(pat) || IsInet6Address(pat))
            return 1;
        if (NotInAddr(pat))
        {
            if (pat[^1] == '.')
                Warn($"{pat}: domain or host name ends in dot");
            else if (pat[0] != '.')
                return Dns(pat);
            return 1;
        }
        if (pat is "0.0.0.0" or "255.255.255.255")
            return 1;
        if (pat[0] == '.')
            Warn($"{pat}: network number begins with dot");
        else if (pat[^1] != '.')
            Dns(pat);
        return 1;
    }

    // tcpdchk (with the IPv6 patch) accepts n.n.n.n/m.m.m.m, n.n.n.n/len (1-32) and [v6]/len (atoi 0-128).
    private void NetMask(string net, string mask)
    {
        var v4 = Ipv4.TryParseDotQuad(net, out _) && (Ipv4.TryParseDotQuad(mask, out _) || CNumbers.Atoi(mask) is >= 1 and <= 32);
        var v6 = IsInet6Address(net) && CNumbers.Atoi(mask) is >= 0 and <= 128;
        if (!v4 && !v6)
            Warn($"{net}/{mask}: bad net/mask pattern");
    }

    /// <summary>
    /// check_host() on a /file: every word of it is a host pattern, reported at the file's own line. Returns the
    /// patterns of /file lists a decision tries for a client that matches none (FilePattern's bound).
    /// </summary>
    private long PatternFile(string path)
    {
        // A file that names itself (or a loop of them) would make tcpdchk recurse until it crashes.
        if (!_openFiles.Add(path))
        {
            Warn($"{path}: this pattern file includes itself; libwrap recurses without end when a client reaches it");
            return 0;
        }
        if (!_checkedFiles.TryGetValue(path, out var known))
            _checkedFiles[path] = known = Walk(path);
        else if (known.Problem is not null)
            Warn(known.Problem);
        _openFiles.Remove(path);
        if (_openFiles.Count == 0 && known.Steps > FilePattern.MaxSteps)
        {
            Warn($"{path}: its pattern lists name one another so many times over that a client matching none of them takes more than {FilePattern.MaxSteps} steps (libwrap walks them for hours); such a client is refused",
                DiagnosticSeverity.Error);
        }
        return known.Steps;
    }

    private (long Steps, string? Problem) Walk(string path)
    {
        // Read as a decision reads it (TableFile): a FIFO would hang open(2) and /dev/zero or /dev/full
        // would be read until memory ran out, so only a regular file of bounded size is read.
        var outcome = TableFile.TryRead(path, out var data, out var error, table: false, maxBytes: PatternFileCache.MaxBytes);
        if (outcome != ReadOutcome.Read)
        {
            // fopen() failing with ENOENT is silent in tcpdchk; anything else is worth a warning.
            var problem = outcome != ReadOutcome.Missing ? Unread(outcome, error!) : null;
            if (problem is not null)
                Warn(problem);
            return (0, problem);
        }
        var lines = PatternFileCache.Latin1(data).Split('\n');
        var (file, line, column) = (_file, _line, _column);
        _file = path;
        long steps = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            _line = i + 1;
            foreach (var (word, offset) in Words(lines[i], " \t\r\n", 0))
            {
                _column = offset + 1;
                _subSteps = 0;
                CheckHost(word);
                // Saturated: a hundred lists naming one another a hundred times over would overflow a long.
                steps = Math.Min(steps + 1 + _subSteps, long.MaxValue / 4);
            }
        }
        (_file, _line, _column) = (file, line, column);
        return (steps, null);
    }

    private int Dns(string host)
    {
        if (lookups is null)
            return 1;
        if (!_hosts.TryGetValue(host, out var report))
            _hosts[host] = report = lookups.Host(host);
        foreach (var w in report.Warnings)
            _into.Add(new Diagnostic(_file, _line, _column, DiagnosticSeverity.Warning, "dns", w, "check the name service, or write an address"));
        return report.Addresses;
    }

    /// <summary>tcpd.h NOT_INADDR: some character outside digits, '.' and '/'.</summary>
    private static bool NotInAddr(string s) => s.AsSpan().IndexOfAnyExcept("01234567890./") >= 0;

    private static bool IsInet6Address(string pat) =>
        pat.Length > 2 && pat[0] == '[' && pat[^1] == ']' && System.Net.IPAddress.TryParse(pat[1..^1], out var a)
        && a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    // The words of PatternFileCache, which decides with the same file.
    private static string Unread(ReadOutcome outcome, string error) => outcome switch
    {
        ReadOutcome.Directory => $"{error}; it lists no patterns (as in libwrap)",
        ReadOutcome.Refused => $"{error}; a /file pattern list must be a regular file of at most {PatternFileCache.MaxBytes} bytes; a client that reaches it is refused",
        // libwrap's own words first (tcpdchk says only those), then what they mean: the decision goes on as if the
        // list were empty, so a hosts.deny rule naming it refuses nobody and an EXCEPT naming it excepts nobody.
        _ => error.Replace("cannot open", "open", StringComparison.Ordinal)
            + "; libwrap reads no pattern from it and goes on: it matches no client (a rule naming it refuses or grants nobody, an EXCEPT naming it excepts nobody)",
    };

    private void Warn(string message, DiagnosticSeverity severity = DiagnosticSeverity.Warning) =>
        _into.Add(new Diagnostic(_file, _line, _column, severity, "tcpdchk", message));
}
