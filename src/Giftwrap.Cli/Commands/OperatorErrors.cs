// Operator errors in words: what failed, where (the address or path, and the line of the
// configuration that named it), why (errno as text, never a number) and what to do. Each
// becomes one line on stderr; none is ever a .NET stack trace.
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Giftwrap.Configuration;
using Giftwrap.Gate.Config;
using Giftwrap.Gate.Listening;

namespace Giftwrap.Cli.Commands;

/// <summary>Why a listener could not be opened.</summary>
internal static class Listening
{
    public static string Describe(SocketException ex, GateConfig? config = null, ConfigFile? file = null)
    {
        var ep = ex.Data[GateServer.ListenEndPointKey] as IPEndPoint;
        var udp = ex.Data[GateServer.ListenUdpKey] is true;
        var service = ep is null ? null : config?.Services.FirstOrDefault(s => (udp ? s.ListenUdp : s.Listen).Contains(ep));
        var where = service is not null && file?.Entry($"service:{service.Name}", "listen") is { } entry ? $"{entry.Source}: " : "";
        var what = ep is null ? "cannot listen" : $"cannot listen on {(udp ? "udp:" : "")}{ep}{(service is null ? "" : $" (service {service.Name})")}";
        var why = ex.SocketErrorCode switch
        {
            SocketError.AddressAlreadyInUse when ex.Data[GateServer.ListenReleasingKey] is true =>
                "the address is still held by this gate's own listener of the configuration before, let go by a reload and " +
                (udp ? "not closed yet (a burst it is judging, or the program it started, still has it)" : "not closed yet") +
                "; send SIGHUP again once it is",
            SocketError.AddressAlreadyInUse => $"the address is already in use: another gate or program listens there (see ss {(udp ? "-lunp" : "-ltnp")}); stop it or choose another port",
            SocketError.AccessDenied => "permission denied: ports below 1024 need root or CAP_NET_BIND_SERVICE",
            SocketError.AddressNotAvailable => "no interface of this host has that address: check ip address, or listen on 0.0.0.0",
            _ => ex.Message,
        };
        return $"{where}{what}: {why}";
    }
}

/// <summary>Why a ban store cannot be used.</summary>
internal static partial class StoreProblems
{
    /// <summary>A store path that names something other than a directory, or null.</summary>
    public static string? KindProblem(string store) =>
        File.Exists(store) ? $"ban store {store} is a file, not a directory: name a directory in [bans] store (default /var/lib/giftwrap)" : null;

    /// <summary>
    /// Why this user cannot read (or, with <paramref name="write"/>, change) the store, or null. Checked
    /// before the store is opened: a store that opens but cannot be read would list no bans, and
    /// "no active bans" from a store nobody could read is a lie.
    /// </summary>
    public static string? AccessProblem(string store, bool write)
    {
        if (!Directory.Exists(store) && !write)
            return null; // a store not made yet: bans lists nothing (there is nothing)
        try
        {
            // A store not made yet is made now, as the first ban would: one that cannot be made is refused here.
            if (!Directory.Exists(store))
            {
                try
                {
                    Directory.CreateDirectory(store);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    return $"ban store {store} does not exist and cannot be made ({(ex is UnauthorizedAccessException ? "permission denied" : Words(ex.Message).TrimEnd('.'))}): create it, or name another in [bans] store";
                }
            }
            _ = Directory.EnumerateFileSystemEntries(store).Any();
            foreach (var name in new[] { "journal", "snapshot" })
            {
                var file = Path.Combine(store, name);
                if (File.Exists(file))
                    using (File.OpenHandle(file, FileMode.Open, write ? FileAccess.ReadWrite : FileAccess.Read)) { }
            }
            if (write)
                using (File.OpenHandle(Path.Combine(store, "lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite)) { }
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Describe(store, "", ex);
        }
    }

    /// <summary>One line for an exception met while opening or writing the store at <paramref name="store"/>.</summary>
    public static string Describe(string store, string where, Exception ex)
    {
        var prefix = where.Length > 0 && where != store ? $"{where}: " : "";
        if (KindProblem(store) is { } kind)
            return prefix + kind;
        var why = Words(ex.Message).Replace(store + ": ", "", StringComparison.Ordinal).TrimEnd('.');
        var denied = ex is UnauthorizedAccessException || why.Contains("ermission denied", StringComparison.Ordinal) || why.Contains("is denied", StringComparison.Ordinal);
        var fix = denied
            ? "run it as root (the store belongs to root), or name in [bans] store a directory this user may use"
            : "check the directory and its disk, or name another in [bans] store";
        return $"{prefix}ban store {store}: {(denied ? "permission denied" : why)}; {fix}";
    }

    /// <summary>Replaces "(errno N)" by the text of the error (strerror), as an operator reads it.</summary>
    public static string Words(string message) =>
        Errno().Replace(message, m => ": " + Marshal.GetPInvokeErrorMessage(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));

    [GeneratedRegex(@" ?\(errno (\d{1,4})\)")]
    private static partial Regex Errno();
}

/// <summary>The last word on an exception no command handled: one line, no stack trace.</summary>
internal static class OperatorError
{
    public static string? Describe(Exception ex) => ex switch
    {
        UnauthorizedAccessException u => $"permission denied: {StoreProblems.Words(u.Message)} (run it as root, or as a user who may use that path)",
        DirectoryNotFoundException d => $"no such directory: {d.Message}",
        FileNotFoundException f => $"no such file: {f.FileName ?? f.Message}",
        IOException io => $"{StoreProblems.Words(io.Message)} (check the path, its permissions and the free space of its disk)",
        SocketException s => Listening.Describe(s),
        // A native layout this build does not know for the running machine (Epoll.EnsureLayout, Statx.EnsureLayout): its message is the line.
        PlatformNotSupportedException p => p.Message,
        // Anything else is a bug of giftwrap, not the operator's doing: still one line, and an exit status.
        _ => $"internal error ({ex.GetType().Name.Replace("Exception", "", StringComparison.Ordinal)}): {ex.Message}; please report it with the command line",
    };
}
