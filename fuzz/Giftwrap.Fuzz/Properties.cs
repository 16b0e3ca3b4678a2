// The harnesses exercise Linux-only assemblies (the ban store, the gate), as the tests do.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
