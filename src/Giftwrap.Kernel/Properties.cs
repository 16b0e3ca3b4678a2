// nftables is Linux's: the kernel side exists nowhere else.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
