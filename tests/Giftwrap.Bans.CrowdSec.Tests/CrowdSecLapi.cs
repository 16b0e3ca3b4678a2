// A real CrowdSec Local API for one test: Debian's crowdsec and cscli binaries (unpacked by
// scripts/test.sh into $GIFTWRAP_CROWDSEC_DIR), run offline with `crowdsec -no-cs` on a free
// loopback port, its configuration, SQLite database and credentials in a temp dir, no hub and
// no Central API. cscli adds the machine (for `decisions add/delete`) and the bouncers. The
// process is stopped by pid (also when the test fails).
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Giftwrap.Bans.CrowdSec.Tests;

internal sealed class CrowdSecLapi : IDisposable
{
    private static readonly string s_root = Environment.GetEnvironmentVariable("GIFTWRAP_CROWDSEC_DIR") is { Length: > 0 } d ? d : "/var/cache/giftwrap-tests/crowdsec";
    private readonly StringBuilder _log = new();
    private Process? _lapi;

    public CrowdSecLapi()
    {
        var crowdsec = Path.Combine(s_root, "usr", "bin", "crowdsec");
        if (!File.Exists(crowdsec))
            throw new InvalidOperationException($"{crowdsec} is missing: scripts/test.sh unpacks Debian's crowdsec there (GIFTWRAP_CROWDSEC_DIR)");
        Dir = Directory.CreateTempSubdirectory("giftwrap-crowdsec-").FullName;
        Port = FreePort();
        Directory.CreateDirectory(Path.Combine(Dir, "data"));
        Directory.CreateDirectory(Path.Combine(Dir, "hub"));
        Directory.CreateDirectory(Path.Combine(Dir, "config"));
        File.WriteAllText(Path.Combine(Dir, "hub", ".index.json"), "{}");
        File.WriteAllText(Path.Combine(Dir, "config", "simulation.yaml"), "simulation: off\n");
        File.WriteAllText(Path.Combine(Dir, "config", "profiles.yaml"),
            "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\non_success: break\n");
        File.WriteAllText(Config, $"""
            common:
              daemonize: false
              log_media: stdout
              log_level: info
              working_dir: {Dir}
            config_paths:
              config_dir: {Dir}/config/
              data_dir: {Dir}/data/
              simulation_path: {Dir}/config/simulation.yaml
              hub_dir: {Dir}/hub/
              index_path: {Dir}/hub/.index.json
              notification_dir: {Dir}/config/notifications/
              plugin_dir: {Dir}/plugins/
            db_config:
              type: sqlite
              db_path: {Dir}/data/crowdsec.db
              use_wal: true
            api:
              client:
                credentials_path: {Dir}/credentials.yaml
              server:
                log_level: info
                listen_uri: 127.0.0.1:{Port}
                profiles_path: {Dir}/config/profiles.yaml
            prometheus:
              enabled: false
            """);
        try
        {
            Cscli("machines", "add", "-a", "-f", Path.Combine(Dir, "credentials.yaml"));
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Dir { get; }

    public int Port { get; }

    public string Config => Path.Combine(Dir, "config.yaml");

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>What the LAPI printed so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            lock (_log)
                return _log.ToString();
        }
    }

    /// <summary>Starts the LAPI process and waits until it listens.</summary>
    public void Start()
    {
        var psi = new ProcessStartInfo(Path.Combine(s_root, "usr", "bin", "crowdsec"), ["-c", Config, "-no-cs"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Dir,
        };
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _lapi = Process.Start(psi)!;
        void Line(object _, DataReceivedEventArgs e)
        {
            if (e.Data is null)
                return;
            lock (_log)
                _log.AppendLine(e.Data);
            if (e.Data.Contains("Local API listening", StringComparison.Ordinal))
                listening.TrySetResult();
        }
        _lapi.OutputDataReceived += Line;
        _lapi.ErrorDataReceived += Line;
        _lapi.BeginOutputReadLine();
        _lapi.BeginErrorReadLine();
        var exited = _lapi.WaitForExitAsync();
        if (Task.WaitAny([listening.Task, exited], TimeSpan.FromSeconds(60)) != 0)
            throw new InvalidOperationException($"crowdsec's Local API did not start:\n{Log}");
    }

    /// <summary>Stops the LAPI process (by pid), keeping its database: Start brings the same LAPI back.</summary>
    public void Stop()
    {
        if (_lapi is not { } p)
            return;
        _lapi = null;
        if (!p.HasExited)
            p.Kill();
        p.WaitForExit();
        p.Dispose();
    }

    /// <summary>`cscli bouncers add NAME`: the new bouncer's key, written to a file as api_key_file wants it.</summary>
    public string AddBouncer(string name)
    {
        var key = Cscli("bouncers", "add", name, "-o", "raw").Trim();
        var file = Path.Combine(Dir, $"{name}.key");
        File.WriteAllText(file, key + "\n");
        return file;
    }

    /// <summary>Runs cscli against this LAPI; its output, or an exception with it when cscli failed.</summary>
    public string Cscli(params string[] args)
    {
        var psi = new ProcessStartInfo(Path.Combine(s_root, "usr", "bin", "cscli"), ["-c", Config, .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Dir,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill();
            throw new TimeoutException($"cscli {string.Join(' ', args)} still ran after 120 s");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"cscli {string.Join(' ', args)} exited with {p.ExitCode}:\n{stdout.Result}\n{stderr.Result}");
        return stdout.Result;
    }

    public void Dispose()
    {
        Stop();
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp dir is untidy, not wrong.
        }
    }

    internal static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
