// One configuration for every benchmark class: BenchmarkDotNet's short job
// (1 launch, 3 warm-up and 3 measured iterations) so the whole run fits in a few
// minutes on a 2-core machine, with the memory diagnoser for allocations.
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;

namespace Giftwrap.Benchmarks;

/// <summary>Short job plus allocations, shared by all benchmark classes.</summary>
public sealed class BenchConfig : ManualConfig
{
    /// <summary>Creates the configuration.</summary>
    public BenchConfig()
    {
        Add(DefaultConfig.Instance);
        AddJob(Job.ShortRun);
        AddDiagnoser(MemoryDiagnoser.Default);
    }
}
