// `giftwrap completion bash|zsh`: prints a script that makes the shell complete giftwrap's
// subcommands and options. The script knows nothing of them itself: at each TAB it asks the
// program through System.CommandLine's [suggest:POSITION] directive, so it never goes stale.
// Install: `giftwrap completion bash > /etc/bash_completion.d/giftwrap`, or for zsh save it as
// `_giftwrap` in a directory of $fpath.
using System.CommandLine;

namespace Giftwrap.Cli.Commands;

internal static class CompletionCommand
{
    // COMP_LINE up to the cursor is the command line being completed; its length is the
    // position [suggest:N] wants. The program is run as it was typed (a path works too).
    // System.CommandLine suggests every symbol that contains the word ("ba" gives unban too);
    // bash wants those that start with it, or TAB could not complete "ba" to "ban".
    internal const string Bash = """
        # bash completion for giftwrap (printed by `giftwrap completion bash`)
        _giftwrap_complete()
        {
            local line="${COMP_LINE:0:COMP_POINT}"
            local cur="${COMP_WORDS[COMP_CWORD]}"
            local s
            COMPREPLY=()
            while IFS= read -r s; do
                [[ $s == "$cur"* ]] && COMPREPLY+=("$s")
            done < <(command "${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null)
        }
        complete -o default -o nosort -F _giftwrap_complete giftwrap

        """;

    internal const string Zsh = """
        #compdef giftwrap
        # zsh completion for giftwrap (printed by `giftwrap completion zsh`)
        _giftwrap()
        {
            local line="${(j: :)words[1,CURRENT]}"
            local -a suggestions
            suggestions=("${(@f)$(command "${words[1]}" "[suggest:${#line}]" "$line" 2>/dev/null)}")
            compadd -Q -a suggestions
        }
        if [ "$funcstack[1]" = "_giftwrap" ]; then
            _giftwrap "$@"
        else
            compdef _giftwrap giftwrap
        fi

        """;

    public static Command Create()
    {
        var shell = new Argument<string>("shell") { Description = "The shell to print the script for: bash or zsh." };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print a shell completion script for giftwrap (bash or zsh); source it or install it.") { shell };
        command.SetAction(result =>
        {
            Console.Out.Write(result.GetValue(shell) == "zsh" ? Zsh : Bash);
            return 0;
        });
        return command;
    }
}
