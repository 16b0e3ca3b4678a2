// One compiled /file pattern list, kept compact: one kind byte per word settled when the
// file is read, the words matched as text in one block (each ended by a NUL, which no word
// holds), and side arrays for the kinds held as numbers (addresses, nets) or as a path. A list's
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
    private const byte Addr4 = 7, Net4 = 8, Net6 = 9, Never = 10, File = 11, Other = 12;
    private const byte NameFlag = 0x80;

    private readonly char[] _text;      // the words of the string_match() kinds and Other, in order
    private readonly byte[] _kinds;
    private readonly uint[] _addrs4;    // one per Addr4 word in order
    private readonly ulong[] _nets4;    // net << 32 | mask, one per Net4 word in order
    private readonly UInt128[] _nets6;  // one per Net6 word in order, with its prefix length in _bits6
    private readonly byte[] _bits6;
    private readonly string[] _paths;   // one per File word in order; equal paths share one string

    /// <summary>A list with no patterns: a file missing, unreadable or refused.</summary>
    public PatternFileList(string? error, bool fatal = false, string code = "file-open")
    {
        (_text, _kinds, _addrs4, _nets4, _nets6, _bits6, _paths) = ([], [], [], [], [], [], []);
        FileLists = [];
        Error = error;
        Fatal = fatal;
        Code = code;
    }

    private PatternFileList(Builder b, string? error, bool fatal, string code)
    {
        _text = b.Text;
        _kinds = b.Kinds;
        _addrs4 = [.. b.Addrs4];
        _nets4 = [.. b.Nets4];
        _nets6 = [.. b.Nets6];
        _bits6 = [.. b.Bits6];
        _paths = [.. b.Paths];
        FileLists = [.. b.Distinct.Values];
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

        public List<uint> Addrs4 { get; } = [];
        public List<ulong> Nets4 { get; } = [];
        public List<UInt128> Nets6 { get; } = [];
        public List<byte> Bits6 { get; } = [];
        public List<string> Paths { get; } = [];
        public Dictionary<string, string> Distinct { get; } = new(StringComparer.Ordinal);
        public char[] Text => _text.Length == _length ? _text : _text[.._length];
        public byte[] Kinds => _kinds[.._count];

        public void Add(ReadOnlySpan<byte> latin1)
        {
            if (_length + latin1.Length + 1 > _text.Length)
                Array.Resize(ref _text, Math.Max(_text.Length * 2, _length + latin1.Length + 1));
            var word = _text.AsSpan(_length, latin1.Length);
            System.Text.Encoding.Latin1.GetChars(latin1, word);
            var kind = Classify(word);
            // The kinds held as numbers or a path leave no text: the word written above is overwritten by the next.
            if (HasText(kind))
            {
                _text[_length + latin1.Length] = '\0';
                _length += latin1.Length + 1;
            }
            if (_count == _kinds.Length)
                Array.Resize(ref _kinds, _kinds.Length * 2);
            _kinds[_count++] = kind;
        }

        // HostPattern.Compile()'s order, with the same rules for each kind.
        private byte Classify(ReadOnlySpan<char> word)
        {
            if (word[0] == '/')
            {
                var lookup = Distinct.GetAlternateLookup<ReadOnlySpan<char>>();
                if (!lookup.TryGetValue(word, out var path))
                {
                    path = word.ToString();
                    lookup[word] = path;
                }
                Paths.Add(path);
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
                Nets6.Add(bracket.Net);
                Bits6.Add((byte)bracket.PrefixLength);
                return Net6;
            }
            if (slash >= 0)
            {
                // A broken net/mask never matches, and libwrap says nothing of it at run time (check does).
                if (!MaskPattern.TryParse(word[..slash], word[(slash + 1)..], out var net, out var mask))
                    return Never;
                Nets4.Add((ulong)net << 32 | mask);
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
            if (word.IndexOfAnyExcept("01234567890./") >= 0)
                return (byte)(kind | NameFlag);
            // A plain address compared as text equals only the same text: held as a number when it is the
            // address's one canonical spelling (the host's must then be too, see Canonical4).
            if (kind == Exact && Canonical4(word, out var address))
            {
                Addrs4.Add(address);
                return Addr4;
            }
            return kind;
        }

        public PatternFileList Build(string? error, string code) => new(this, error, false, code);
    }

    private static bool HasText(byte kind) => (kind & ~NameFlag) is Exact or Suffix or Prefix or All or Wild or Other;

    /// <summary>True when <paramref name="s"/> is a dotted quad written as it would be printed (no leading zeros).</summary>
    private static bool Canonical4(ReadOnlySpan<char> s, out uint address)
    {
        if (s.Length is < 7 or > 15 || !Ipv4.TryParseDotQuad(s, out address))
        {
            address = 0;
            return false;
        }
        Span<char> printed = stackalloc char[15];
        var a = address;
        return printed.TryWrite(System.Globalization.CultureInfo.InvariantCulture, $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}", out var n)
            && printed[..n].SequenceEqual(s);
    }

    /// <summary>
    /// The words in order against the host, as libwrap's list_match() walks the file: the first that matches
    /// ends the walk. Every word counts against FilePattern.MaxSteps for the decision.
    /// </summary>
    public bool IsMatch(EvalContext ctx, bool server, string path)
    {
        var host = ctx.Host(server);
        var at = 0;
        int a4 = 0, n4 = 0, n6 = 0, files = 0;
        // The host as a canonical dotted quad and as an IPv6 address, each parsed on the first word that
        // needs it: 0 not yet, 1 parsed, 2 not such an address.
        var v4 = 0;
        var address4 = 0u;
        var v6 = 0;
        var address6 = UInt128.Zero;
        for (var i = 0; i < _kinds.Length; i++)
        {
            var kind = _kinds[i];
            var word = ReadOnlySpan<char>.Empty;
            if (HasText(kind))
            {
                word = _text.AsSpan(at);
                word = word[..word.IndexOf('\0')];
                at += word.Length + 1;
            }
            if (++ctx.FileSteps > FilePattern.MaxSteps)
            {
                ctx.Fail("file-steps", $"{path}: more than {FilePattern.MaxSteps} patterns of /file lists tried for one client (lists that name one another many times over?); access refused");
                return false;
            }
            bool match;
            switch (kind & ~NameFlag)
            {
                case Addr4:
                    if (v4 == 0)
                        v4 = Canonical4(StringPattern.Unmapped(host), out address4) ? 1 : 2;
                    match = v4 == 1 && address4 == _addrs4[a4];
                    a4++;
                    break;
                case Net4:
                    var net = _nets4[n4++];
                    match = Ipv4.TryParseDotQuad(host, out var h4) && (h4 & (uint)net) == (uint)(net >> 32);
                    break;
                case Net6:
                    if (v6 == 0)
                        v6 = Ipv6.TryParse(host, out address6) ? 1 : 2;
                    match = v6 == 1 && (address6 & Ipv6.Mask(_bits6[n6])) == _nets6[n6];
                    n6++;
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
