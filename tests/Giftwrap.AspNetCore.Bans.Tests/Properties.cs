[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
// Each test starts its own Kestrel on loopback ports chosen by the kernel; running them one class
// at a time keeps a 2-core CI machine from timing out decisions under load.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
