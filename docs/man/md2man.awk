# Turns the Markdown sources of Giftwrap's manual pages (docs/man/*.md) into man(7) roff.
# It knows only the small dialect those pages are written in, and leaves fonts, filling and
# hyphenation to groff/man. Preview:  awk -f docs/man/md2man.awk docs/man/giftwrap.8.md | man -l -
#
# The dialect:
#   % NAME(SECTION) | MANUAL       first line: the title (.TH); "% DATE" may follow
#   # HEADING / ## Subheading      .SH / .SS
#   text, blank line               a filled paragraph
#   term                           a tagged paragraph (.TP): the term on its own line,
#   :   definition                 the definition after ":" and more lines indented 4 spaces
#   - item                         a bullet; continuation lines indented 2 spaces
#   ```  ...  ```                  a literal block (no filling, no inline markup)
#   `code`, **bold**, *italic*     inline; code and bold are bold, "-" in them a real minus;
#                                  \* and \` stand for a literal * and `
# Run with -v version=X.Y.Z to name the version in the footer and -v date=YYYY-MM-DD for the
# date (a "% DATE" second line wins). Plain POSIX awk (Debian's mawk).

function fail(msg) {
    printf "md2man: %s:%d: %s\n", source, i, msg > "/dev/stderr"
    failed = 1
    exit 1
}

# Escapes one line of running text and turns the inline markup into font changes.
function inline(s,    out, c, n, j, span) {
    out = ""
    while (length(s) > 0) {
        c = substr(s, 1, 1)
        if (c == "\\" && length(s) > 1 && index("*`", substr(s, 2, 1)) > 0) {
            out = out substr(s, 2, 1)
            s = substr(s, 3)
            continue
        }
        if (c == "`" && (j = index(substr(s, 2), "`")) > 0) {
            out = out "\\fB" literal(substr(s, 2, j - 1)) "\\fR"
            s = substr(s, j + 2)
            continue
        }
        if (substr(s, 1, 2) == "**" && (j = index(substr(s, 3), "**")) > 0) {
            out = out "\\fB" literal(substr(s, 3, j - 1)) "\\fR"
            s = substr(s, j + 4)
            continue
        }
        if (c == "*" && (j = index(substr(s, 2), "*")) > 1) {
            span = substr(s, 2, j - 1)
            out = out "\\fI" plain(span) "\\fR"
            s = substr(s, j + 2)
            continue
        }
        out = out plain(c)
        s = substr(s, 2)
    }
    return line_start(out)
}

# Text set as it is: backslashes escaped.
function plain(s) {
    gsub(/\\/, "\\e", s)
    return s
}

# Code and option names: as plain, with "-" as the minus sign a reader can paste into a shell.
function literal(s) {
    s = plain(s)
    gsub(/-/, "\\-", s)
    return s
}

# A roff line that starts with "." or "'" would be read as a request.
function line_start(s) {
    if (s ~ /^[.']/)
        return "\\&" s
    return s
}

function quoted(s) {
    gsub(/"/, "\\(dq", s)
    return "\"" s "\""
}

# Ends a bullet list or a definition: back to the left margin for what follows.
function close_block() {
    if (inlist) {
        print ".RE"
        inlist = 0
    }
    indef = 0
}


# Ends a paragraph-level block before a heading or a new top-level paragraph.
function flush() {
    close_block()
    inpara = 0
}

{ lines[++count] = $0; source = FILENAME }

END {
    if (failed) exit 1
    i = 1
    if (lines[1] !~ /^% [A-Za-z0-9._-]+\([1-8]\) \| /)
        fail("the first line must be \"% NAME(SECTION) | MANUAL\"")
    head = substr(lines[1], 3)
    bar = index(head, " | ")
    name = substr(head, 1, bar - 1)
    manual = substr(head, bar + 3)
    section = name
    sub(/^[^(]*\(/, "", section)
    sub(/\).*/, "", section)
    sub(/\(.*/, "", name)
    i = 2
    if (lines[2] ~ /^% /) { date = substr(lines[2], 3); i = 3 }
    footer = "Giftwrap" (version != "" ? " " version : "")
    print ".\\\" Generated from " source " by docs/man/md2man.awk: edit the Markdown, not this file."
    print ".TH " quoted(name) " " quoted(section) " " quoted(date) " " quoted(footer) " " quoted(manual)
    # Left-aligned and unhyphenated: option names and paths must not be split.
    print ".ad l"
    print ".nh"
    inpara = 0; inlist = 0; indef = 0
    for (; i <= count; i++) {
        line = lines[i]
        if (line ~ /^```/) {
            print (inlist || indef) ? ".IP" : ".PP"
            print ".RS 4"
            print ".nf"
            for (i++; i <= count && lines[i] !~ /^```/; i++)
                print line_start(literal(lines[i]))
            if (i > count) fail("a literal block without its closing ```")
            print ".fi"
            print ".RE"
            inpara = 0
            continue
        }
        if (line ~ /^[ \t]*$/) { inpara = 0; continue }
        if (line ~ /^## /) { flush(); print ".SS " quoted(substr(line, 4)); continue }
        if (line ~ /^# /) {
            flush()
            heading = substr(line, 3)
            print ".SH " quoted(heading)
            continue
        }
        if (heading == "NAME" && index(line, " - ") > 0) {
            # whatis(1) and lexgrog read "name \- summary".
            print ".PP"
            print inline(substr(line, 1, index(line, " - ") - 1)) " \\- " inline(substr(line, index(line, " - ") + 3))
            inpara = 1
            continue
        }
        if (line ~ /^:   /) fail("a \":   definition\" without a term on the line before it")
        if (line ~ /^- /) {
            if (!inlist) {
                close_block()
                print ".PP"
                print ".RS 2"
                inlist = 1
            }
            print ".IP \\(bu 2"
            print inline(substr(line, 3))
            inpara = 1
            continue
        }
        if (line ~ /^    / && indef) {
            # The definition goes on; after a blank line, as a new paragraph of the same item.
            if (!inpara) print ".IP"
            print inline(substr(line, 5))
            inpara = 1
            continue
        }
        if (line ~ /^  / && inlist) {
            if (!inpara) print ".IP \"\" 2"
            print inline(substr(line, 3))
            inpara = 1
            continue
        }
        if (line ~ /^[ \t]/) fail("an indented line outside a definition or a list")
        if (lines[i + 1] ~ /^:   /) {
            # A term: the line alone before ":   definition".
            if (inlist) { print ".RE"; inlist = 0 }
            print ".TP"
            print inline(line)
            i++
            print inline(substr(lines[i], 5))
            indef = 1
            inpara = 1
            continue
        }
        if (!inpara) {
            close_block()
            print ".PP"
            inpara = 1
        }
        print inline(line)
    }
}
