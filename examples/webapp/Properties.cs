// Linux only, like Giftwrap.AspNetCore.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
