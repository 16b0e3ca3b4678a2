// No libc entry point of ours newer than glibc 2.28 (Debian 10, RHEL 8): every P/Invoke into libc in
// the shipped assemblies (found by reflection, so a LibraryImport added anywhere is seen) must be in
// the list below, each with the symbol version glibc exports it under on x86-64 (objdump -T libc.so.6,
// the default "@@" version). stat and fstat are the reason for the list: exported only from 2.33.
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Giftwrap.Cli.Tests;

public sealed class GlibcFloorTests
{
    private static readonly Version Floor = new(2, 28);

    // name -> GLIBC_x.y of its default version on x86-64 (checked against the machine's libc below).
    private static readonly Dictionary<string, string> Available = new(StringComparer.Ordinal)
    {
        ["accept4"] = "2.10", ["bind"] = "2.2.5", ["close"] = "2.2.5", ["connect"] = "2.2.5", ["endnetgrent"] = "2.2.5",
        ["epoll_create1"] = "2.9", ["epoll_ctl"] = "2.3.2", ["epoll_wait"] = "2.3.2", ["eventfd"] = "2.7",
        ["execv"] = "2.2.5", ["execve"] = "2.2.5", ["fchown"] = "2.2.5", ["fcntl"] = "2.2.5", ["flock"] = "2.2.5",
        ["freeaddrinfo"] = "2.2.5", ["fsync"] = "2.2.5", ["getaddrinfo"] = "2.2.5", ["getegid"] = "2.2.5", ["geteuid"] = "2.2.5",
        ["getgrnam"] = "2.2.5", ["getnameinfo"] = "2.2.5", ["getnetgrent"] = "2.2.5", ["getpeername"] = "2.2.5", ["getpriority"] = "2.2.5", ["getrlimit"] = "2.2.5",
        ["getpwnam"] = "2.2.5", ["getrandom"] = "2.25", ["getsockname"] = "2.2.5", ["getsockopt"] = "2.2.5", ["initgroups"] = "2.2.5",
        ["innetgr"] = "2.2.5", ["inotify_add_watch"] = "2.4", ["inotify_init1"] = "2.9", ["inotify_rm_watch"] = "2.4",
        ["ioctl"] = "2.2.5", ["kill"] = "2.2.5", ["nice"] = "2.2.5", ["open"] = "2.2.5", ["pipe2"] = "2.9",
        ["posix_spawn"] = "2.15", ["posix_spawn_file_actions_adddup2"] = "2.2.5",
        ["posix_spawn_file_actions_addopen"] = "2.2.5", ["posix_spawn_file_actions_destroy"] = "2.2.5",
        ["posix_spawn_file_actions_init"] = "2.2.5", ["posix_spawnattr_destroy"] = "2.2.5",
        ["posix_spawnattr_init"] = "2.2.5", ["posix_spawnattr_setflags"] = "2.2.5", ["posix_spawnattr_setpgroup"] = "2.2.5",
        ["posix_spawnattr_setsigdefault"] = "2.2.5", ["posix_spawnattr_setsigmask"] = "2.2.5",
        ["read"] = "2.2.5", ["recv"] = "2.2.5", ["recvfrom"] = "2.2.5", ["send"] = "2.2.5", ["setgid"] = "2.2.5", ["setnetgrent"] = "2.2.5",
        ["setsockopt"] = "2.2.5", ["setuid"] = "2.2.5", ["shutdown"] = "2.2.5", ["sigaction"] = "2.2.5", ["sigdelset"] = "2.2.5", ["sigemptyset"] = "2.2.5",
        ["sigfillset"] = "2.2.5", ["signal"] = "2.2.5", ["sigprocmask"] = "2.2.5", ["socket"] = "2.2.5", ["splice"] = "2.5", ["statx"] = "2.28", ["umask"] = "2.2.5",
        ["waitpid"] = "2.2.5", ["write"] = "2.2.5",
    };

    [Fact]
    public void EveryLibcEntryPoint_IsInGlibc228()
    {
        var imports = LibcImports();
        // The scan sees the imports at all: the relay's, the ban store's and the table reader's.
        Assert.Contains("epoll_wait", imports.Keys);
        Assert.Contains("statx", imports.Keys);
        Assert.Contains("fsync", imports.Keys);
        var unlisted = imports.Where(i => !Available.ContainsKey(i.Key)).Select(i => $"{i.Key} ({string.Join(", ", i.Value)})").ToList();
        Assert.True(unlisted.Count == 0, $"libc entry points not known to be in glibc 2.28: {string.Join("; ", unlisted)}");
        Assert.All(imports.Keys, name => Assert.True(Version.Parse(Available[name]) <= Floor, $"{name} is GLIBC_{Available[name]}"));
    }

    [Fact]
    public void TheListAgreesWithThisMachinesLibc()
    {
        // The running process's own libc.so.6, as mapped (no path of a machine in the repository).
        var libc = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length >= 6 && Path.GetFileName(f[5]) == "libc.so.6").Select(f => f[5]).First();
        var exported = DefaultVersions(libc);
        foreach (var name in LibcImports().Keys)
        {
            Assert.True(exported.TryGetValue(name, out var version), $"{name} is not exported by {libc}");
            // Elsewhere than x86-64 the oldest version is the architecture's first (2.17 on arm64), never newer than 2.28.
            if (RuntimeInformation.ProcessArchitecture == Architecture.X64)
                Assert.Equal(Available[name], version);
            else
                Assert.True(Version.Parse(version) <= Floor, $"{name} is GLIBC_{version} here");
        }
        Assert.Equal("2.33", exported["stat"]); // why stat and fstat are not imported
    }

    [Fact]
    public void EveryLibcEntryPoint_IsDeclaredOncePerAssembly_OnItsInteropLibc()
    {
        foreach (var (name, users) in LibcImports())
        {
            // Giftwrap.Gate.Actions (the process launcher and child reaper) keeps its own declarations
            // until it moves to its own assembly with an interop layer of its own.
            var counted = users.Where(u => !u.Contains(":Giftwrap.Gate.Actions.", StringComparison.Ordinal)).ToList();
            Assert.All(counted, u => Assert.Matches(@"^[^:]+:Giftwrap(\.[A-Za-z]+)*\.Interop\.Libc\.", u));
            var perAssembly = counted.GroupBy(u => u[..u.IndexOf(':', StringComparison.Ordinal)]).Where(g => g.Count() > 1).Select(g => string.Join(", ", g)).ToList();
            Assert.True(perAssembly.Count == 0, $"{name} declared more than once in an assembly: {string.Join("; ", perAssembly)}");
        }
    }

    /// <summary>Entry point -> the methods importing it, over every Giftwrap assembly beside the tests.</summary>
    private static Dictionary<string, List<string>> LibcImports()
    {
        var found = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        var assemblies = Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll")
            .Where(f => Path.GetFileName(f).StartsWith("giftwrap", StringComparison.OrdinalIgnoreCase) && !Path.GetFileName(f).Contains("Tests", StringComparison.Ordinal))
            .ToList();
        Assert.Contains(assemblies, a => Path.GetFileName(a) == "Giftwrap.Gate.dll");
        Assert.Contains(assemblies, a => Path.GetFileName(a) == "Giftwrap.Bans.dll");
        Assert.Contains(assemblies, a => Path.GetFileName(a) == "giftwrap.dll");
        foreach (var file in assemblies)
        {
            var assembly = Assembly.LoadFrom(file);
            Type?[] types;
            try
            {
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                types = ex.Types;
            }
            foreach (var type in types.OfType<Type>())
            {
                foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
                {
                    if (method.GetCustomAttribute<DllImportAttribute>() is not { } import || !import.Value.StartsWith("libc", StringComparison.Ordinal))
                        continue;
                    var name = import.EntryPoint ?? method.Name;
                    if (!found.TryGetValue(name, out var users))
                        found[name] = users = [];
                    users.Add($"{Path.GetFileNameWithoutExtension(file)}:{type.FullName}.{method.Name}");
                }
            }
        }
        return found;
    }

    /// <summary>Symbol -> x.y of its default version, from objdump -T.</summary>
    private static Dictionary<string, string> DefaultVersions(string library)
    {
        var start = new ProcessStartInfo("objdump", ["-T", library]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var objdump = Process.Start(start)!;
        var text = objdump.StandardOutput.ReadToEnd();
        Assert.True(objdump.WaitForExit(60_000));
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            // "... DF .text  0000000000000053  GLIBC_2.28  statx"; a hidden (older) version is in parentheses.
            var fields = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 3 || !fields[^2].StartsWith("GLIBC_", StringComparison.Ordinal))
                continue;
            versions[fields[^1]] = fields[^2]["GLIBC_".Length..];
        }
        return versions;
    }
}
