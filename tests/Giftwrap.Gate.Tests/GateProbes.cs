// Helpers for the end-to-end gate tests: exec and forward services, a C probe that reads
// socket options from its stdin, process-wide counters (descriptors, children), and polling.
using System.Diagnostics;
using System.Net;
using Giftwrap.Gate.Config;

namespace Giftwrap.Gate.Tests;

internal static class GateProbes
{
    private static readonly string[] RuntimeFiles = [".dll", ".pdb", ".so"];
    private static readonly Lazy<string> SockOptProbe = new(BuildSockOptProbe);

    private const string SockOptSource = """
        #include <stdio.h>
        #include <sys/socket.h>
        int main(void) {
            int ka = 0; socklen_t kl = sizeof ka;
            struct linger lg = {0}; socklen_t ll = sizeof lg;
            if (getsockopt(0, SOL_SOCKET, SO_KEEPALIVE, &ka, &kl) || getsockopt(0, SOL_SOCKET, SO_LINGER, &lg, &ll)) {
                perror("getsockopt");
                return 1;
            }
            printf("keepalive=%d linger=%d/%d\n", ka, lg.l_onoff, lg.l_linger);
            return 0;
        }
        """;

    /// <summary>A program that prints "keepalive=K linger=ON/SECONDS" for the socket on its stdin.</summary>
    public static string SockOptProgram => SockOptProbe.Value;

    public static ServiceConfig Exec(string daemon, int port, params string[] argv) => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Loopback, port)],
        Exec = argv,
    };

    public static ServiceConfig Shell(string daemon, int port, string script) => Exec(daemon, port, "/bin/sh", "-c", script);

    public static ServiceConfig Forward(string daemon, int port, int backend) => new()
    {
        Name = daemon,
        Daemon = daemon,
        Listen = [new IPEndPoint(IPAddress.Loopback, port)],
        Forward = new IPEndPoint(IPAddress.Loopback, backend),
    };

    /// <summary>
    /// Open descriptors of this test process, less the assemblies and symbol files the runtime
    /// opens on first use (an exception's stack trace loads some): those are not the gate's.
    /// </summary>
    public static int OpenDescriptors() => DescribeDescriptors().Count;

    /// <summary>Descriptor number to what it points at, for saying what leaked.</summary>
    public static Dictionary<string, string> DescribeDescriptors()
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                var target = new FileInfo(fd).LinkTarget ?? "?";
                if (!RuntimeFiles.Any(ext => target.EndsWith(ext, StringComparison.Ordinal)))
                    result[Path.GetFileName(fd)] = target;
            }
            catch (IOException)
            {
                // Closed between listing and reading: not a leak.
            }
        }
        return result;
    }

    /// <summary>The descriptors in <paramref name="now"/> that <paramref name="before"/> did not have, with their TCP endpoints.</summary>
    public static string NewDescriptors(Dictionary<string, string> before, Dictionary<string, string> now)
    {
        var tcp = File.ReadAllLines("/proc/net/tcp").Concat(File.ReadAllLines("/proc/net/tcp6")).ToList();
        var lines = now.Where(kv => !before.TryGetValue(kv.Key, out var t) || t != kv.Value).Select(kv =>
        {
            var inode = kv.Value.StartsWith("socket:[", StringComparison.Ordinal) ? kv.Value[8..^1] : null;
            var row = inode is null ? null : tcp.FirstOrDefault(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).ElementAtOrDefault(9) == inode);
            return $"{kv.Key} -> {kv.Value} {row?.Trim()}";
        });
        return string.Join("\n", lines);
    }

    /// <summary>Polls <paramref name="condition"/> for up to 20 s (a generous bound, not a timing assertion).</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition)
    {
        for (var i = 0; i < 400; i++)
        {
            if (condition())
                return true;
            await Task.Delay(50);
        }
        return condition();
    }

    /// <summary>Waits up to 20 s for a file to appear with a whole line in it; returns its text.</summary>
    public static async Task<string> ReadWhenWrittenAsync(string path)
    {
        Assert.True(await EventuallyAsync(() => File.Exists(path) && File.ReadAllText(path).EndsWith('\n')), $"{path} was never written");
        return File.ReadAllText(path);
    }

    private static string BuildSockOptProbe()
    {
        var dir = Directory.CreateTempSubdirectory("giftwrap-probe-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        var source = Path.Combine(dir, "sockopt.c");
        var binary = Path.Combine(dir, "sockopt");
        File.WriteAllText(source, SockOptSource);
        Process gcc;
        try
        {
            gcc = Process.Start(new ProcessStartInfo("gcc", ["-o", binary, source]) { RedirectStandardError = true })!;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("gcc is needed to build the socket-option probe (scripts/test.sh installs it)", ex);
        }
        using (gcc)
        {
            var errors = gcc.StandardError.ReadToEnd();
            gcc.WaitForExit();
            if (gcc.ExitCode != 0)
                throw new InvalidOperationException($"gcc failed on the socket-option probe: {errors}");
        }
        return binary;
    }
}
