// Linux only, like the parts it carries out decisions with: the program launcher
// (posix_spawn) and the C library's netgroups and accounts.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
