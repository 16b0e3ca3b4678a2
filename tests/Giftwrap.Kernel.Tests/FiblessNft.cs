// An nft that refuses any batch naming fib, as a kernel without nft_fib does, until a flag file
// appears (the module loaded later); everything else, and everything after, is the real nft in
// the test's namespace. Every check-only run (`nft -c`: the fib probe) leaves a line in a file,
// so a test can count the probes. Lives in the test's own directory, deleted with it.
namespace Giftwrap.Kernel.Tests;

public sealed class FiblessNft
{
    private readonly string _flag;
    private readonly string _probes;

    public FiblessNft(string dir, NetNamespace ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        Bin = System.IO.Path.Combine(dir, "bin");
        Directory.CreateDirectory(Bin);
        Path = System.IO.Path.Combine(Bin, "nft");
        _flag = System.IO.Path.Combine(dir, "fib-loaded");
        _probes = System.IO.Path.Combine(dir, "fib-probes");
        File.WriteAllText(Path, $$"""
            #!/bin/sh
            case "$*" in
            *-c*) echo probe >> '{{_probes}}' ;;
            esac
            case "$*" in
            *-f*)
              script=$(cat)
              if [ ! -e '{{_flag}}' ]; then
                case "$script" in
                *fib*) echo "Error: Could not process rule: No such file or directory" >&2; exit 1 ;;
                esac
              fi
              printf '%s\n' "$script" | exec nsenter -t {{ns.Pid}} -n /usr/sbin/nft "$@" ;;
            *) exec nsenter -t {{ns.Pid}} -n /usr/sbin/nft "$@" ;;
            esac
            """);
        File.SetUnixFileMode(Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>The wrapper itself, as argv[0] for <see cref="KernelOptions.Nft"/>.</summary>
    public string Path { get; }

    /// <summary>The directory holding it, to put first on PATH.</summary>
    public string Bin { get; }

    /// <summary>The fib probes (nft -c runs) so far.</summary>
    public int Probes => File.Exists(_probes) ? File.ReadAllLines(_probes).Length : 0;

    /// <summary>From now on every batch reaches the kernel, fib or not.</summary>
    public void LoadFib() => File.WriteAllText(_flag, "");

    /// <summary>PATH with the wrapper first, for a giftwrap that runs "nft".</summary>
    public Dictionary<string, string?> Environment() =>
        new() { ["PATH"] = $"{Bin}:{System.Environment.GetEnvironmentVariable("PATH")}" };

    /// <summary>`giftwrap kernel status` inside <paramref name="ns"/> with this nft first on PATH.</summary>
    public ProcessRun Status(NetNamespace ns, string conf)
    {
        ArgumentNullException.ThrowIfNull(ns);
        return ns.Run(Environment(), "dotnet", GiftwrapInNamespace.Dll, "kernel", "status", "--config", conf);
    }
}
