// Users and groups named by the user and group options, and netgroup membership:
// system databases the core consults through small interfaces so tests and hosts
// can supply their own. The defaults read the system's files and libc's innetgr().
using Giftwrap.Interop;

namespace Giftwrap.Decisions;

/// <summary>Answers whether a user or group exists (getpwnam/getgrnam), for the user and group options.</summary>
public interface IAccounts
{
    /// <summary>True when the system knows the user.</summary>
    bool UserExists(string name);

    /// <summary>True when the system knows the group.</summary>
    bool GroupExists(string name);
}

/// <summary>Answers NIS netgroup membership of a host (innetgr).</summary>
public interface INetgroups
{
    /// <summary>True when <paramref name="host"/> is a host member of <paramref name="netgroup"/>.</summary>
    bool IsHostInNetgroup(string netgroup, string host);
}

/// <summary>Looks users and groups up through the C library (getpwnam/getgrnam), so NSS sources count.</summary>
internal sealed class SystemAccounts : IAccounts
{
    /// <summary>The shared instance.</summary>
    public static readonly SystemAccounts Instance = new();

    /// <inheritdoc/>
    public bool UserExists(string name) => name.Length > 0 && !name.Contains('\0', StringComparison.Ordinal) && Libc.getpwnam(name) != 0;

    /// <inheritdoc/>
    public bool GroupExists(string name) => name.Length > 0 && !name.Contains('\0', StringComparison.Ordinal) && Libc.getgrnam(name) != 0;
}

/// <summary>Netgroup membership through the C library's innetgr(), as libwrap built with NETGROUP does.</summary>
internal sealed class SystemNetgroups : INetgroups
{
    /// <summary>The shared instance.</summary>
    public static readonly SystemNetgroups Instance = new();

    /// <inheritdoc/>
    public bool IsHostInNetgroup(string netgroup, string host)
    {
        if (netgroup.Contains('\0', StringComparison.Ordinal) || host.Contains('\0', StringComparison.Ordinal))
            return false;
        try
        {
            return Libc.innetgr(netgroup, host, null, null) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            // A C library without netgroups: nothing is a member, as with an empty NIS map.
            return false;
        }
    }
}
