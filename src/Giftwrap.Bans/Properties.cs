// The ban store is Linux-only: flock(2), fsync(2) on directories, stat(2) layouts, Unix file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
