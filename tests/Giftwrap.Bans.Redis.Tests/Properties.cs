[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
// Each test starts its own redis-server and members; running them side by side only adds noise to the timings.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
