// Linux only, like the ban store it opens (flock, fsync) and the package it plugs into.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
