// One compiled /file pattern list, kept compact: its words as one block of text (each
// word ended by a NUL, which no word holds), one kind byte per word settled when the file
// is read, and side arrays for the few kinds that need numbers (nets) or a path. A list's
// words are hostile input (a 64 MB file of one-character words is 32 million patterns), so
// nothing here is one object per word. Reading the file is PatternFileCache's; the walk
// keeps HostPattern's order and lookups word for word, so decisions are libwrap's.
using Giftwrap.Decisions;
using Giftwrap.Patterns;

namespace Giftwrap.Tables;

/// <summary>
/// A compiled pattern file. <see cref="Fatal"/> means libwrap would crash or hang on it, so access is refused;
/// otherwise <see cref="Error"/> (with <see cref="Code"/>) is a warning and libwrap's outcome is kept.
/// </summary>
internal sealed class PatternFileList
{
    // How a word is matched. The string_match() kinds carry NameFlag when the word is compared with the
    // host name too (NOT_INADDR: not only digits, dots and slashes), as GeneralPattern does.
    private const byte Exact = 0, Suffix = 1, Prefix = 2, All = 3, Wild = 4;
    private const byte Net4 = 8, Net6 = 9, Never = 10, File = 11, Other = 12;
    private const byte NameFlag = 0x80;

    private readonly char[] _text;
    private readonly byte[] _kinds;
    private readonly ulong[] _nets4;   // net << 32 | mask, one per Net4 word in order
    private readonly UInt128[] _nets6; // net and mask, two per Net6 word in order
    private readonly string[] _paths;  // one per File word in order; equal paths share one string

    public PatternFileList(string? error, bool fatal = false, string code = "file-open")
        : this([], [], [], [], [], [], error, fatal, code)
    {
    }

    private PatternFileList(char[] text, byte[] kinds, ulong[] nets4, UInt128[] nets6, string[] paths, string[] lists, string? error, bool fatal, string code)
    {
        _text = text;
        _kinds = kinds;
        _nets4 = nets4;
        _nets6 = nets6;
        _paths = paths;
        FileLists = lists;
        Error = error;
        Fatal = fatal;
        Code = code;
    }

    public string? Error { get; }
    public bool Fatal { get; }
    public string Code { get; }

    /// <summary>The number of patterns in the list.</summary>
    public int Count => _kinds.Length;

    /// <summary>The distinct /file lists this list names.</summary>
    public string[] FileLists { get; }

    /// <summary>Builds a list word by word; the words are Latin-1 text, as libwrap reads bytes.</summary>
    internal sealed class Builder(int capacity)
    {
        private char[] _text = new char[Math.Max(capacity, 16)];
        private int _length;
        private byte[] _kinds = new byte[16];
        private int _count;
        private readonly List<ulong> _nets4 = [];
        private readonly List<UInt128> _nets6 = [];
        private readonly List<string> _paths = [];
        private readonly Dictionary<string, string> _distinct = new(StringComparer.Ordinal);

        public void Add(ReadOnlySpan<byte> latin1)
        {
            if (_length + latin1.Length + 1 > _text.Length)
                Array.Resize(ref _text, Math.Max(_text.Length * 2, _length + latin1.Length + 1));
            var word = _text.AsSpan(_length, latin1.Length);
            System.Text.Encoding.Latin1.GetChars(latin1, word);
            _text[_length + latin1.Length] = '\0';
            _length += latin1.Length + 1;
            if (_count == _kinds.Length)
                Array.Resize(ref _kinds, _kinds.Length * 2);
            _kinds[_count++] = Classify(word);
        }

        // HostPattern.Compile()'s order, with the same rules for each kind.
        private byte Classify(ReadOnlySpan<char> word)
        {
            if (word[0] == '/')
            {
                var lookup = _distinct.GetAlternateLookup<ReadOnlySpan<char>>();
                if (!lookup.TryGetValue(word, out var path))
                {
                    path = word.ToString();
                    lookup[word] = path;
                }
                _paths.Add(path);
                return File;
            }
            if (word[0] == '@' || Ascii.EqualsIgnoreCase(word, "KNOWN") || Ascii.EqualsIgnoreCase(word, "LOCAL"))
                return Other;
            var slash = word.IndexOf('/');
            if (word[0] == '[' && (slash >= 0 || word.IndexOfAny('*', '?') < 0))
            {
                // "[v6]" alone compares the name too (BracketPattern's LooksUpName): rare, compiled when used.
                if (slash < 0)
                    return Other;
                var bracket = BracketPattern.Create(word.ToString());
                if (!bracket.IsValid)
                    return Never;
                _nets6.Add(bracket.Net);
                _nets6.Add(Ipv6.Mask(bracket.PrefixLength));
                return Net6;
            }
            if (slash >= 0)
            {
                // A broken net/mask never matches, and libwrap says nothing of it at run time (check does).
                if (!MaskPattern.TryParse(word[..slash], word[(slash + 1)..], out var net, out var mask))
                    return Never;
                _nets4.Add((ulong)net << 32 | mask);
                return Net4;
            }
            var kind = StringPattern.Classify(word) switch
            {
                StringPatternKind.Wildcard => Wild,
                StringPatternKind.Suffix => Suffix,
                StringPatternKind.All => All,
                StringPatternKind.Prefix => Prefix,
                // KNOWN was taken above, as HostPattern.Compile() takes it before string_match().
                _ => Exact,
            };
            return word.IndexOfAnyExcept("01234567890./") >= 0 ? (byte)(kind | NameFlag) : kind;
        }

        public PatternFileList Build(string? error, string code) =>
            new(_text[.._length], _kinds[.._count], [.. _nets4], [.. _nets6], [.. _paths], [.. _distinct.Values], error, false, code);
    }

    /// <summary>
    /// The words in order against the host, as libwrap's list_match() walks the file: the first that matches
    /// ends the walk. Every word counts against FilePattern.MaxSteps for the decision.
    /// </summary>
    public bool IsMatch(EvalContext ctx, bool server, string path)
    {
        var host = ctx.Host(server);
        var at = 0;
        int n4 = 0, n6 = 0, files = 0;
        // The host as an IPv6 address, parsed on the first [v6]/len word: 0 not yet, 1 parsed, 2 not IPv6.
        var v6 = 0;
        var address6 = UInt128.Zero;
        for (var i = 0; i < _kinds.Length; i++)
        {
            var word = _text.AsSpan(at);
            word = word[..word.IndexOf('\0')];
            at += word.Length + 1;
            if (++ctx.FileSteps > FilePattern.MaxSteps)
            {
                ctx.Fail("file-steps", $"{path}: more than {FilePattern.MaxSteps} patterns of /file lists tried for one client (lists that name one another many times over?); access refused");
                return false;
            }
            var kind = _kinds[i];
            bool match;
            switch (kind & ~NameFlag)
            {
                case Net4:
                    var net = _nets4[n4++];
                    match = Ipv4.TryParseDotQuad(host, out var a4) && (a4 & (uint)net) == (uint)(net >> 32);
                    break;
                case Net6:
                    var (net6, mask6) = (_nets6[n6], _nets6[n6 + 1]);
                    n6 += 2;
                    if (v6 == 0)
                        v6 = Ipv6.TryParse(host, out address6) ? 1 : 2;
                    match = v6 == 1 && (address6 & mask6) == net6;
                    break;
                case Never:
                    match = false;
                    break;
                case File:
                    match = FilePattern.Evaluate(ctx, server, _paths[files++]);
                    break;
                case Other:
                    match = HostPattern.Compile(word.ToString()).IsMatch(ctx, server);
                    break;
                default:
                    // GeneralPattern: the address, then (NOT_INADDR) the name, asked for each word as it does.
                    match = Matches(kind, word, host) || ((kind & NameFlag) != 0 && Matches(kind, word, ctx.HostName(server)));
                    break;
            }
            if (match)
                return true;
            if (ctx.Failed)
                return false;
        }
        return false;
    }

    // StringPattern.IsMatch() for the kinds a host word can be.
    private static bool Matches(byte kind, ReadOnlySpan<char> word, string s) => (kind & ~NameFlag) switch
    {
        Wild => Patterns.Wildcard.IsMatch(word, s, StringPattern.WildcardIgnoresCase),
        // The name must be longer than the suffix: `.tue.nl` does not match `tue.nl`.
        Suffix => s.Length > word.Length && Ascii.EqualsIgnoreCase(s.AsSpan(s.Length - word.Length), word),
        All => true,
        Prefix => Ascii.StartsWithIgnoreCase(s, word),
        _ => Ascii.EqualsIgnoreCase(word, StringPattern.Unmapped(s)),
    };
}
