// Hosting speaks Linux: posix_spawn, waitpid, SIGCHLD, setsockopt's struct linger.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
