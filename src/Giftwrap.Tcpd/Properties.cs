// giftwrap runs on Linux: the gate and tcpd mode use its signals, sockets and process calls.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
