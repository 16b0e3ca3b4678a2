// tcpdchk -i: which daemons inetd.conf runs through tcpd (inetcf.c: inet_cfg,
// inet_chk), with its warnings about the entries (missing or non-executable
// programs, tcpd inserted before the daemon, rpc/tcp services), and the table of
// names tcpdchk checks each daemon pattern against (inet_set, inet_get). Reads only.
using Giftwrap.Rules;
using Giftwrap.Tables;

namespace Giftwrap.Checks;

/// <summary>What tcpdchk knows of a service (inetcf.h WR_*).</summary>
internal enum WrapStatus
{
    /// <summary>Not in inetd.conf, nor a known libwrap-linked program.</summary>
    Unknown,
    /// <summary>Run directly from inetd: may not be wrapped.</summary>
    Not,
    /// <summary>Could be wrapped.</summary>
    Maybe,
    /// <summary>Run through tcpd, or linked with libwrap.</summary>
    Yes,
}

/// <summary>The services of an inetd.conf and their wrap status.</summary>
internal sealed class InetdConf
{
    /// <summary>The largest inetd.conf read (a few kilobytes is usual).</summary>
    internal const long MaxBytes = 16L * 1024 * 1024;

    /// <summary>REAL_DAEMON_DIR of Debian's build: where tcpd looks for a daemon named without a path.</summary>
    public const string RealDaemonDir = "/usr/sbin";

    /// <summary>Where tcpdchk looks when no -i is given (inetcf.c inet_files, Debian's build).</summary>
    public const string DefaultPath = "/etc/inetd.conf";

    // tcpdchk.c libwrap_programs: not run from inetd, but linked with libwrap in Debian.
    private static readonly string[] LibwrapPrograms =
        ["portmap", "mountd", "statd", "ugidd", "redir", "rlinetd", "sshd", "atftpd", "diald", "mysqld", "ntop", "pptpd", "rquotad", "sendmail", "smail"];

    private static readonly char[] Whitespace = [' ', '\t', '\r', '\n'];
    private readonly Dictionary<string, WrapStatus> _services = new(StringComparer.OrdinalIgnoreCase);

    private InetdConf(string? path) => Path = path;

    /// <summary>The file read, or null when none was found.</summary>
    public string? Path { get; }

    /// <summary>How tcpdchk names the file in its messages.</summary>
    public string Describe() => Path ?? $"{DefaultPath} (no such file)";

    /// <summary>inet_get(): a name's status (names are compared case-blind, as STR_EQ does).</summary>
    public WrapStatus Get(string name) => _services.TryGetValue(name, out var s) ? s : WrapStatus.Unknown;

    /// <summary>inet_set(): the later entry wins.</summary>
    public void Set(string name, WrapStatus status) => _services[name] = status;

    /// <summary>tcpdchk's view: Debian's libwrap-linked programs count as wrapped.</summary>
    public InetdConf WithLibwrapPrograms()
    {
        foreach (var p in LibwrapPrograms)
            Set(p, WrapStatus.Yes);
        return this;
    }

    /// <summary>
    /// Reads <paramref name="path"/> (null: the default, silently absent) as inet_cfg() does;
    /// <paramref name="alsoWrapped"/> (Giftwrap's own services) count as wrapped.
    /// </summary>
    public static InetdConf Read(string? path, IEnumerable<string> alsoWrapped, List<Diagnostic> diagnostics)
    {
        var explicitPath = path is not null;
        path ??= DefaultPath;
        string[]? lines = null;
        // Read as the tables are (Tables.TableFile): a FIFO is never waited on, a device never read without end.
        var data = Array.Empty<byte>();
        var error = $"cannot open {path}: Is a directory";
        var outcome = Directory.Exists(path) ? ReadOutcome.Failed : TableFile.TryRead(path, out data, out error, table: true, maxBytes: MaxBytes);
        if (outcome == ReadOutcome.Read)
        {
            lines = System.Text.Encoding.Latin1.GetString(data).Split('\n');
        }
        else if (explicitPath)
        {
            // tcpdchk -i FILE exits when FILE cannot be opened; without -i a missing file is normal.
            var reason = outcome == ReadOutcome.Missing ? "No such file or directory" : error!.Replace($"cannot open {path}: ", "", StringComparison.Ordinal);
            diagnostics.Add(new Diagnostic(path, 0, 0, DiagnosticSeverity.Error, "inetd", $"open {path}: {reason}"));
        }
        var conf = new InetdConf(lines is null ? null : path);
        if (lines is not null)
            conf.Parse(path, lines, diagnostics);
        foreach (var d in alsoWrapped)
            conf.Set(d, WrapStatus.Yes);
        return conf;
    }

    private void Parse(string file, string[] physical, List<Diagnostic> diagnostics)
    {
        var line = 0;
        var text = new System.Text.StringBuilder();
        foreach (var raw in physical)
        {
            line++;
            // xgets(): a backslash before the newline joins the next line.
            if (raw.EndsWith('\\'))
            {
                text.Append(raw[..^1]);
                continue;
            }
            text.Append(raw);
            Entry(text.ToString(), file, line, diagnostics);
            text.Clear();
        }
    }

    /// <summary>One inetd.conf (or tlid.conf) entry: service, [endpoint,] protocol, wait, user, path, arg0, arg1.</summary>
    private void Entry(string text, string file, int line, List<Diagnostic> d)
    {
        var f = new Queue<string>(text.Split(Whitespace, StringSplitOptions.RemoveEmptyEntries));
        if (!f.TryDequeue(out var service) || service.StartsWith('#'))
            return;
        if (service is not "stream" and not "dgram")
            f.TryDequeue(out _);
        f.TryDequeue(out var protocol);
        f.TryDequeue(out _);
        if (!f.TryDequeue(out var user))
            return;
        var path = user;
        if (user[0] != '/' && !f.TryDequeue(out path))
            return;
        if (path.StartsWith('?'))
            path = path[1..];
        if (path == "internal")
            return;
        // ConvexOS puts an RPC version number before the path (inetcf.c).
        if (path.AsSpan().IndexOfAnyExcept("-0123456789") < 0 && !f.TryDequeue(out path))
            return;
        if (!f.TryDequeue(out var arg0))
        {
            d.Add(Warn(file, line, "incomplete line"));
            return;
        }
        // tlid.conf: an argument count comes before the arguments.
        if (arg0.AsSpan().IndexOfAnyExcept("0123456789") < 0 && !f.TryDequeue(out arg0))
        {
            d.Add(Warn(file, line, "incomplete line"));
            return;
        }
        Check(protocol ?? "", path, arg0, f.TryDequeue(out var arg1) ? arg1 : "", file, line, d);
    }

    /// <summary>inet_chk(): how the entry is wrapped, with the warnings on the way.</summary>
    private void Check(string protocol, string path, string arg0, string arg1, string file, int line, List<Diagnostic> d)
    {
        var baseName = BaseName(path);
        var procName = arg0.StartsWith('/') ? BaseName(arg0) : arg0;
        Executable(path, file, line, d);
        if (baseName == "miscd")
        {
            Set(arg0, WrapStatus.Yes);
            return;
        }
        if (procName is "rexd" or "rpc.rexd")
            d.Add(Warn(file, line, $"{procName} may be an insecure service"));
        WrapStatus status;
        if (baseName == "tcpd")
        {
            status = WrapStatus.Yes;
            if (procName == "tcpd")
                d.Add(Warn(file, line, $"{procName} is recursively calling itself"));
            if (File.Exists(path) && (Mode(path) & (UnixFileMode.SetUser | UnixFileMode.SetGroup)) != 0)
                d.Add(Warn(file, line, $"{path}: file is set-uid or set-gid"));
            if (arg0.StartsWith('/') && procName == BaseName(arg1))
                d.Add(Warn(file, line, $"{path} inserted before {arg0}"));
            Executable(arg0.StartsWith('/') ? arg0 : $"{RealDaemonDir}/{arg0}", file, line, d, arg0.StartsWith('/') ? null : arg0);
        }
        else
        {
            // The "simple installation": the daemon moved aside, tcpd in its place under the same name.
            var daemon = $"{RealDaemonDir}/{arg0}";
            status = path == daemon || !File.Exists(daemon) ? WrapStatus.Not : WrapStatus.Maybe;
        }
        if (status == WrapStatus.Yes && protocol == "rpc/tcp")
            d.Add(Warn(file, line, $"{procName}: cannot wrap rpc/tcp services"));
        Set(procName, status);
    }

    private static void Executable(string path, string file, int line, List<Diagnostic> d, string? shortName = null)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
            d.Add(Warn(file, line, shortName is null ? $"{path}: not found" : $"{shortName}: not found in {RealDaemonDir}"));
        else if ((Mode(path) & UnixFileMode.UserExecute) == 0)
            d.Add(Warn(file, line, $"{path}: not executable"));
    }

    // inetd.conf is a Unix file: elsewhere every program counts as executable and without set-id bits.
    private static UnixFileMode Mode(string path) =>
        OperatingSystem.IsWindows() ? UnixFileMode.UserExecute : File.GetUnixFileMode(path);

    private static string BaseName(string path) => path[(path.LastIndexOf('/') + 1)..];

    private static Diagnostic Warn(string file, int line, string message) =>
        new(file, line, 0, DiagnosticSeverity.Warning, "inetd", message);
}
