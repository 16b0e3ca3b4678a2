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
}
