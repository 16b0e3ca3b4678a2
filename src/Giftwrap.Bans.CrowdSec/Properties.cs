// Built on the local ban store, which is Linux-only (flock, fsync on directories).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
