// The ban store the bouncer writes to is Linux-only (flock, fsync on directories).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
