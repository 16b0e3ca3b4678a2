// The giftwrap command's own doorway into the C library: what tcpdchk asks the name service
// directly and Giftwrap.Net does not (the netgroup enumeration innetgr() does not offer; host
// names are Giftwrap.Net's SystemDnsClient). Each call declared once. glibc on 64-bit Linux.
using System.Runtime.InteropServices;

namespace Giftwrap.Cli.Interop;

internal static partial class Libc
{
    private const string Library = "libc.so.6";

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int setnetgrent(string netgroup);

    [LibraryImport(Library)]
    public static partial int getnetgrent(out nint host, out nint user, out nint domain);

    [LibraryImport(Library)]
    public static partial void endnetgrent();
}
