// The RFC 1413 ident reply parser: the input as the reply line to a query for ports 6191, 23
// (the example of RFC 1413 section 8), and each of its lines so.
using Giftwrap.Decisions;
using Giftwrap.Net.Ident;

namespace Giftwrap.Fuzz;

public static class IdentHarness
{
    public static void Run(byte[] input)
    {
        Check(IdentReply.Parse(input, 6191, 23));
        foreach (var line in input.AsSpan().Split((byte)'\n'))
            Check(IdentReply.Parse(input.AsSpan(line).TrimEnd((byte)'\r'), 6191, 23));
    }

    // What the parser returns becomes %u and the user part of user@host patterns: never empty, never
    // longer than libwrap's field, never a control character.
    private static void Check(string user)
    {
        if (user.Length is 0 or > AccessRequest.MaxFieldLength || user.Any(c => c is < ' ' or '\x7f'))
            throw new InvalidOperationException($"ident user \"{user}\" is not a user name the tables may see");
    }
}
