// Installing, publishing for linux-x64 and rendering man pages: Linux only.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
