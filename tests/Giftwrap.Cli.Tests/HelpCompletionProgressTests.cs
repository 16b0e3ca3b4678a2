// The command line as an administrator meets it: --help for every command (usage line, every
// option described), the shell completion script run by a real bash against the real program,
// and the progress note: absent when stderr is redirected, present on a pseudo-terminal.
using System.CommandLine;
using System.Diagnostics;
using Giftwrap.Cli.Commands;

namespace Giftwrap.Cli.Tests;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HelpCompletionProgressTests
{
    public static TheoryData<string> Commands()
    {
        var data = new TheoryData<string>();
        foreach (var c in GiftwrapCommand.Create().Subcommands.Where(c => !c.Hidden))
            data.Add(c.Name);
        return data;
    }

    [Fact]
    public void CommandTree_EverySymbolIsDescribed()
    {
        var missing = new List<string>();
        void Walk(Command command, string path)
        {
            if (string.IsNullOrWhiteSpace(command.Description))
                missing.Add(path);
            foreach (var o in command.Options.Where(o => !o.Hidden))
            {
                if (string.IsNullOrWhiteSpace(o.Description))
                    missing.Add($"{path} {o.Name}");
            }
            foreach (var a in command.Arguments.Where(a => !a.Hidden))
            {
                if (string.IsNullOrWhiteSpace(a.Description))
                    missing.Add($"{path} <{a.Name}>");
            }
            foreach (var c in command.Subcommands)
                Walk(c, $"{path} {c.Name}");
        }
        Walk(GiftwrapCommand.Create(), "giftwrap");
        Assert.Empty(missing);
    }

    [Fact]
    public void RootHelp_ListsEveryCommand()
    {
        var r = CliRunner.Run(Path.GetTempPath(), "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("Usage:", r.Stdout);
        foreach (var c in GiftwrapCommand.Create().Subcommands.Where(c => !c.Hidden))
        {
            Assert.Contains($"  {c.Name}", r.Stdout);
            Assert.Contains(c.Description!, r.Stdout.Replace("\n", " ", StringComparison.Ordinal), StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void CommandHelp_ShowsUsageAndEveryOption(string name)
    {
        var command = GiftwrapCommand.Create().Subcommands.Single(c => c.Name == name);
        var r = CliRunner.Run(Path.GetTempPath(), name, "--help");
        Assert.Equal(0, r.ExitCode);
        Assert.Contains($"giftwrap {name}", r.Stdout);
        Assert.Contains("Usage:", r.Stdout);
        Assert.Contains(command.Description!, r.Stdout);
        foreach (var o in command.Options.Where(o => !o.Hidden))
            Assert.Contains(o.Name, r.Stdout);
        foreach (var a in command.Arguments)
            Assert.Contains($"<{a.Name}>", r.Stdout);
    }

    [Theory]
    [InlineData("bash", "complete -o default")]
    [InlineData("zsh", "#compdef giftwrap")]
    public void Completion_PrintsScriptThatAsksTheProgram(string shell, string marker)
    {
        var r = CliRunner.Run(Path.GetTempPath(), "completion", shell);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains(marker, r.Stdout);
        Assert.Contains("[suggest:", r.Stdout);
        Assert.NotEqual(0, CliRunner.Run(Path.GetTempPath(), "completion", "fish").ExitCode);
    }

    [Theory]
    [InlineData("giftwrap se", new[] { "serve" }, new[] { "match", "ban" })]
    [InlineData("giftwrap ba", new[] { "ban", "bans" }, new[] { "serve", "match" })]
    [InlineData("giftwrap serve --c", new[] { "--config", "--check-config" }, new[] { "--drain-seconds", "--inetd" })]
    [InlineData("giftwrap replay --current-", new[] { "--current-allow", "--current-deny" }, new[] { "--log" })]
    [InlineData("giftwrap completion ", new[] { "bash", "zsh" }, new[] { "serve" })]
    public void Suggest_PartialCommandLine_ListsWhatCanFollow(string line, string[] expected, string[] absent)
    {
        var r = CliRunner.Run(Path.GetTempPath(), $"[suggest:{line.Length}]", line);
        Assert.Equal(0, r.ExitCode);
        var suggestions = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (var e in expected)
            Assert.Contains(e, suggestions);
        foreach (var a in absent)
            Assert.DoesNotContain(a, suggestions);
    }

    [Fact]
    public void BashCompletion_RealBash_CompletesSubcommandsAndOptions()
    {
        using var dir = new TempDir();
        // The script runs the program as typed (COMP_WORDS[0]): a wrapper stands for the installed binary.
        var program = dir.Write("giftwrap", $"#!/bin/sh\nexec dotnet '{CliRunner.Dll}' \"$@\"\n");
        File.SetUnixFileMode(program, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var script = dir.Write("giftwrap.bash", CliRunner.Run(dir.Path, "completion", "bash").Stdout);
        string Complete(params string[] words)
        {
            var line = string.Join(' ', [program, .. words]);
            var psi = new ProcessStartInfo("bash", ["-c",
                "source \"$1\"; COMP_LINE=\"$2\"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< \"$2\"; " +
                "[[ $2 == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _giftwrap_complete; printf '%s\\n' \"${COMPREPLY[@]}\"",
                "bash", script, line])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var p = Process.Start(psi)!;
            var output = p.StandardOutput.ReadToEnd();
            Assert.True(p.WaitForExit(60_000));
            Assert.Equal(0, p.ExitCode);
            return output;
        }
        var commands = Complete("ex").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["explain"], commands);
        // System.CommandLine suggests unban for "ba" too (it contains it); the script keeps prefixes only.
        Assert.Equal(["ban", "bans"], Complete("ba").Split('\n', StringSplitOptions.RemoveEmptyEntries));
        var options = Complete("ban", "--f").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["--for", "--force"], options.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Progress_StderrRedirected_NoNote()
    {
        using var dir = new TempDir();
        var (log, allow, deny) = ReplayInputs(dir);
        var r = CliRunner.Run(dir.Path, "replay", "--log", log, "--allow", allow, "--deny", deny, "--current-allow", allow, "--current-deny", deny);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("5000 connection(s) replayed", r.Stdout);
        Assert.DoesNotContain("replaying", r.Stderr);
        Assert.DoesNotContain("compiling", r.Stderr);
        Assert.DoesNotContain("\x1b[K", r.Stderr);
        var check = CliRunner.Run(dir.Path, "check", "--allow", allow, "--deny", deny);
        Assert.DoesNotContain("checking", check.Stderr);
    }

    [Fact]
    public void Progress_OnTerminal_NoteShownThenErased()
    {
        using var dir = new TempDir();
        var (log, allow, deny) = ReplayInputs(dir);
        // script(1) runs the command on a pseudo-terminal: stderr is a terminal there.
        var command = $"dotnet '{CliRunner.Dll}' replay --log '{log}' --allow '{allow}' --deny '{deny}' --current-allow '{allow}' --current-deny '{deny}'";
        var psi = new ProcessStartInfo("script", ["-qec", command, "/dev/null"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(120_000));
        Assert.Equal(0, p.ExitCode);
        Assert.Contains("giftwrap: compiling", output);
        Assert.Contains($"giftwrap: replaying {log}", output);
        Assert.Contains("% of ", output);
        // Erased before the report: the report starts on a clean line.
        Assert.Contains("\r\x1b[K5000 connection(s) replayed", output);
    }

    private static (string Log, string Allow, string Deny) ReplayInputs(TempDir dir)
    {
        var lines = Enumerable.Range(0, 5000).Select(i =>
            $"{{\"time\":\"2024-01-01T00:00:00Z\",\"daemon\":\"sshd\",\"client\":\"10.0.{i % 200}.{i % 250}\",\"verdict\":\"granted\"}}");
        var log = dir.Write("decisions.json", string.Join('\n', lines) + "\n");
        return (log, dir.Write("hosts.allow", "sshd: 10.0.\n"), dir.Write("hosts.deny", "ALL: ALL\n"));
    }
}
