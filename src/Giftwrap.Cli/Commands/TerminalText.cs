// Text from elsewhere (a fleet member's ban reason, a client name or ident user read back
// from a log) made safe to print on the operator's terminal. JSON output escapes it itself
// and is left to its writer.
namespace Giftwrap.Cli.Commands;

internal static class TerminalText
{
    /// <summary>
    /// Control characters (ESC, BEL, CR, C1) shown as '?': a rogue one could otherwise rewrite the
    /// terminal the text is printed on (set its title, clear the screen, hide the line before it).
    /// </summary>
    public static string Printable(string text) =>
        text.Any(char.IsControl) ? string.Create(text.Length, text, (span, t) =>
        {
            for (var i = 0; i < t.Length; i++)
                span[i] = char.IsControl(t[i]) ? '?' : t[i];
        }) : text;
}
