// One JSON object on one line, byte for byte as System.Text.Json's Utf8JsonWriter writes it with its
// default options (compact, the default encoder's escaping), for the decision log: strings, integers,
// null and arrays of strings. It checks no nesting and no names; its one caller is DecisionLog.Format.
// Why not Utf8JsonWriter: it and its encoder were 204 relocations giftwrap-tcpd's loader applied at every
// start, log or no log (docs/benchmarks.md, third round). DecisionLogFormatTests compares the two.
using System.Globalization;

namespace Giftwrap.Gate.Logging;

internal sealed class JsonLineWriter
{
    private const string Hex = "0123456789ABCDEF";
    private byte[] _buffer = new byte[256];
    private int _length;
    private bool _comma;

    public void StartObject()
    {
        Separate();
        Append((byte)'{');
        _comma = false;
    }

    public void EndObject()
    {
        Append((byte)'}');
        _comma = true;
    }

    public void StartArray(string name)
    {
        Name(name);
        Append((byte)'[');
        _comma = false;
    }

    public void EndArray()
    {
        Append((byte)']');
        _comma = true;
    }

    /// <summary>A string member; a null value is written as null, as Utf8JsonWriter writes it.</summary>
    public void String(string name, string? value)
    {
        Name(name);
        Value(value);
    }

    public void StringValue(string? value)
    {
        Separate();
        Value(value);
    }

    public void Number(string name, int value)
    {
        Name(name);
        Span<char> digits = stackalloc char[11];
        value.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        foreach (var c in digits[..written])
            Append((byte)c);
        _comma = true;
    }

    public void Null(string name)
    {
        Name(name);
        Literal("null");
    }

    /// <summary>What was written, and a newline.</summary>
    public byte[] ToLine()
    {
        var line = new byte[_length + 1];
        _buffer.AsSpan(0, _length).CopyTo(line);
        line[_length] = (byte)'\n';
        return line;
    }

    private void Name(string name)
    {
        Separate();
        Quoted(name);
        Append((byte)':');
    }

    private void Value(string? value)
    {
        if (value is null)
        {
            Literal("null");
            return;
        }
        Quoted(value);
        _comma = true;
    }

    private void Literal(string text)
    {
        foreach (var c in text)
            Append((byte)c);
        _comma = true;
    }

    private void Separate()
    {
        if (_comma)
            Append((byte)',');
    }

    // The default encoder's rules (JavaScriptEncoder.Default): printable ASCII passes except the HTML-sensitive
    // " & ' + < > ` and the backslash; \b \t \n \f \r and \\ have their short forms; everything else, all of it
    // non-ASCII, is \uXXXX per UTF-16 unit (uppercase hex); a lone surrogate becomes \uFFFD. All output is ASCII.
    private void Quoted(string text)
    {
        Append((byte)'"');
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is >= ' ' and <= '~' and not ('"' or '&' or '\'' or '+' or '<' or '>' or '`' or '\\'))
            {
                Append((byte)c);
            }
            else if (c is '\\' or '\b' or '\t' or '\n' or '\f' or '\r')
            {
                Short(c);
            }
            else if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                Unicode(c);
                Unicode(text[++i]);
            }
            else
            {
                Unicode(char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }
        Append((byte)'"');
    }

    private void Short(char c)
    {
        Append((byte)'\\');
        Append(c switch
        {
            '\\' => (byte)'\\',
            '\b' => (byte)'b',
            '\t' => (byte)'t',
            '\n' => (byte)'n',
            '\f' => (byte)'f',
            _ => (byte)'r',
        });
    }

    private void Unicode(char c)
    {
        Append((byte)'\\');
        Append((byte)'u');
        for (var shift = 12; shift >= 0; shift -= 4)
            Append((byte)Hex[(c >> shift) & 0xF]);
    }

    private void Append(byte b)
    {
        if (_length == _buffer.Length)
            Array.Resize(ref _buffer, _buffer.Length * 2);
        _buffer[_length++] = b;
    }
}
