// Diagnostics: what the reader, the option checker and the evaluator report, with the
// place it concerns. Collected like a compiler's messages; never thrown.
namespace Giftwrap.Rules;

/// <summary>How serious a diagnostic is.</summary>
public enum DiagnosticSeverity
{
    /// <summary>Worth knowing; the policy is what the administrator wrote.</summary>
    Info,
    /// <summary>libwrap warns here too; the outcome may not be what was meant.</summary>
    Warning,
    /// <summary>The rule or table cannot be used as written; access may be refused.</summary>
    Error,
}

/// <summary>A message about a place in a table: file, physical line (1-based), column (1-based, 0 if unknown).</summary>
/// <param name="File">The table or pattern file concerned.</param>
/// <param name="Line">The physical line, 1-based; 0 when the message concerns the whole file.</param>
/// <param name="Column">The column, 1-based; 0 when unknown.</param>
/// <param name="Severity">How serious it is.</param>
/// <param name="Code">A short stable identifier of the kind of message, e.g. <c>percent</c> for an unknown %-letter.</param>
/// <param name="Message">The message, in the words libwrap would log where libwrap has one.</param>
/// <param name="Fix">A suggested change, or <c>null</c>.</param>
public sealed record Diagnostic(
    string File,
    int Line,
    int Column,
    DiagnosticSeverity Severity,
    string Code,
    string Message,
    string? Fix = null)
{
    /// <summary>Formats as <c>file:line:column: severity: message</c>, the way compilers do.</summary>
    public override string ToString()
    {
        var where = Column > 0 ? $"{File}:{Line}:{Column}" : Line > 0 ? $"{File}:{Line}" : File;
        var sev = Severity switch
        {
            DiagnosticSeverity.Error => "error",
            DiagnosticSeverity.Warning => "warning",
            _ => "info",
        };
        return Fix is null ? $"{where}: {sev}: {Message}" : $"{where}: {sev}: {Message} ({Fix})";
    }

    /// <summary>Formats as libwrap's tcpd_warn() logs it: <c>warning: file, line N: message</c> (an error says <c>error</c>).</summary>
    public string ToLogLine()
    {
        var kind = Severity == DiagnosticSeverity.Error ? "error" : "warning";
        return Line > 0 ? $"{kind}: {File}, line {Line}: {Message}" : $"{kind}: {Message}";
    }
}
