// Linux only, like the ban store whose bans it shares.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
