// Which of the request's own fields libwrap's percent_x() rewrote in place while it expanded the
// options: it replaces unsafe bytes with '_' in the buffer it was handed, and for %h, %n, a %c
// without a user, and %u that buffer is the request's client name or user. tcpd's later lines
// ("connect from", "twist") then show the rewritten bytes; the hosts apply the same rewrite.
namespace Giftwrap.Decisions;

[Flags]
internal enum SanitisedFields
{
    None = 0,
    ClientName = 1,
    ClientUser = 2,
}
