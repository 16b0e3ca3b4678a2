// The words every output uses for a verdict (match, replay, check, the decision log, the metrics'
// verdict label), said once: tcpdmatch's "granted", "denied" and "delegated" (a twist hands the
// client to another program). Where each word goes is left to the output that writes it.
namespace Giftwrap.Decisions;

internal static class VerdictWords
{
    public const string Granted = "granted";
    public const string Denied = "denied";
    public const string Delegated = "delegated";

    /// <summary>"granted" or "denied".</summary>
    public static string Of(bool granted) => granted ? Granted : Denied;

    /// <summary>tcpdmatch's word for a decision: a twist is "delegated", whatever the verdict.</summary>
    public static string Of(Decision decision) =>
        decision.Actions.Any(a => a is Options.TwistAction) ? Delegated : Of(decision.IsGranted);
}
