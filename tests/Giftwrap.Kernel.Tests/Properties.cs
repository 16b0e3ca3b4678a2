// nftables and network namespaces are Linux's.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
