// The gate speaks Linux: signals, posix_spawn, /dev/log, inotify.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
