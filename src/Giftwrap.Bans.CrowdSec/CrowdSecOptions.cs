// The bouncer's settings, from the [crowdsec] section of the gate's configuration file:
// `lapi` (the Local API's URL; absent means no bouncer), `api_key_file` (the file holding the
// key `cscli bouncers add` printed: a key is a secret and stays out of the configuration),
// `poll` (how often the decision stream is asked for changes), `origins` (which of CrowdSec's
// origins to enforce; none named means all), `resync` (how often the full list is reconciled
// again) and `timeout` (the longest one request may take).
// The keys are declared with the others in Giftwrap.Configuration.ConfigSchema and read by its
// one reader; what a URL and a key file must be stays here.
using Giftwrap.Configuration;

namespace Giftwrap.Bans.CrowdSec;

/// <summary>How the bouncer reaches CrowdSec's Local API and what it takes from it.</summary>
public sealed record CrowdSecOptions
{
    /// <summary>The Local API's base URL (http or https), such as http://127.0.0.1:8080.</summary>
    public required Uri Lapi { get; init; }

    /// <summary>The bouncer's API key, sent as the X-Api-Key header.</summary>
    public required string ApiKey { get; init; }

    /// <summary>How often the stream is asked for new and deleted decisions.</summary>
    public TimeSpan Poll { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How often the full list is asked for again and reconciled, besides after a start or an
    /// outage. The deltas alone can miss decisions: the LAPI selects them by creation time
    /// against this key's last call, and a decision written by a transaction still open at that
    /// call is never in any delta (seen here with 200 of 100,000 during a `cscli decisions import`).
    /// </summary>
    public TimeSpan Resync { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest one request to the Local API may take, the answer's body included.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The origins enforced (crowdsec, cscli, CAPI, lists...); empty: every origin.</summary>
    public IReadOnlyList<string> Origins { get; init; } = [];

    /// <summary>The first wait after a failed request; each further failure doubles it up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts while the Local API cannot be reached.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>An answer larger than this is refused: 1,000,000 decisions take about 250 MB (tests make it small).</summary>
    internal long MaxAnswerBytes { get; init; } = 512L * 1024 * 1024;
}

/// <summary>Reads <see cref="CrowdSecOptions"/> from the [crowdsec] section of the gate's INI file.</summary>
internal static class CrowdSecOptionsReader
{
    private const string S = "crowdsec";

    /// <summary>The bouncer's settings, or null when there is no `lapi` key; problems go to <see cref="ConfigFile.Errors"/>.</summary>
    public static CrowdSecOptions? FromFile(ConfigFile file)
    {
        if (file.Get(S, "lapi") is not { } lapi)
        {
            if (file.HasSection(S))
                file.Errors.Add($"{file.Where(S, "lapi")}: [crowdsec] needs lapi = URL (such as http://127.0.0.1:8080)");
            return null;
        }
        if (!Uri.TryCreate(lapi, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Query.Length > 0)
        {
            file.Error(S, "lapi", $"lapi: \"{lapi}\" is not an http or https URL (such as http://127.0.0.1:8080)");
            return null;
        }
        if (!file.HasSection("bans"))
            file.Errors.Add($"{file.Where(S, "lapi")}: [crowdsec] needs a [bans] section: CrowdSec's decisions go into the ban store");
        var key = ReadKey(file);
        var origins = file.Get(S, "origins") is { } o ? ConfigFile.Split(o) : [];
        return new CrowdSecOptions
        {
            Lapi = uri,
            ApiKey = key ?? "",
            Poll = file.Duration(S, "poll"),
            Timeout = file.Duration(S, "timeout"),
            Resync = file.Duration(S, "resync"),
            Origins = origins,
        };
    }

    /// <summary>The key from api_key_file: one line, no blanks; unreadable, empty or odd is an error of the file.</summary>
    private static string? ReadKey(ConfigFile file)
    {
        if (file.Get(S, "api_key_file") is not { } path)
        {
            file.Errors.Add($"{file.Where(S, "lapi")}: [crowdsec] needs api_key_file = PATH (the key `cscli bouncers add NAME` printed)");
            return null;
        }
        string text;
        try
        {
            // A key is a few dozen bytes: more is not a key file (and is not read whole).
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read);
            if (stream.Length > 4096)
            {
                file.Error(S, "api_key_file", $"api_key_file: {path} is {stream.Length} bytes, not a key");
                return null;
            }
            using var reader = new StreamReader(stream);
            text = reader.ReadToEnd().Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Without its key the bouncer can enforce nothing: refuse to start rather than run without it.
            file.Error(S, "api_key_file", $"api_key_file: cannot read {path}: {ex.Message}");
            return null;
        }
        if (text.Length == 0 || text.Any(c => c <= ' ' || c > '~'))
        {
            file.Error(S, "api_key_file", $"api_key_file: {path} does not hold one key (printable, on one line)");
            return null;
        }
        return text;
    }
}
