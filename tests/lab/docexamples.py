#!/usr/bin/python3
"""Finds the example command lines in README.md and socksify(1), for
tests/lab/examples.sh.

  docexamples.py examples README.md man/socksify.1
      one line per example, in document order: FILE:LINE<TAB>TEXT
  docexamples.py output FILE LINE
      the output the document shows for the "$ " example at LINE: the lines
      of its code block after it, up to the next "$ " line
  docexamples.py block FILE WORD
      every line of the first code block that has a line starting with WORD
  docexamples.py blockat FILE LINE
      every line of the code block that holds LINE
  docexamples.py manopts MANPAGE
      the options the OPTIONS section's .TP tags name, one a line

An example is a line of a code block (README: an indented block; man: .nf
to .fi), or the whole text of a code span (README: `...`, joined across
lines) or of a font macro line (man: .B, .BR, ...), that starts with one of
PREFIXES.  In a README block that shows "$ " prompts only the prompt lines
are commands (the rest is their output).  The "$ " is dropped, and so is a
trailing comment set off by two or more blanks.  Man text is what the page
shows: roff quotes and escapes (\\-, \\(dq, \\fB, ...) are rendered.
"""
import re
import sys

PREFIXES = ("socksify ", "eval ", "exec socksify ", "ssh -N -D", "env -u LD_PRELOAD ssh")


def norm(text):
    text = re.sub(r"\s{2,}#.*$", "", text).strip()
    if text.startswith("$ "):
        text = text[2:].strip()
    return text


def is_example(text):
    return text.startswith(PREFIXES)


# ---------------------------------------------------------------- markdown
def md_blocks(lines):
    """[(first line number, [lines without their 4-blank indent])]"""
    blocks, cur, prev_blank = [], None, True
    for i, line in enumerate(lines, 1):
        if not line.strip():
            prev_blank = True
            if cur is not None:
                cur[1].append("")
            continue
        if line.startswith("    ") and (cur is not None or prev_blank):
            if cur is None:
                cur = (i, [])
                blocks.append(cur)
            cur[1].append(line[4:])
        else:
            cur = None
        prev_blank = False
    return blocks


def md_examples(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    code = set()
    for first, blines in md_blocks(lines):
        prompts = any(b.startswith("$ ") for b in blines)
        for k, b in enumerate(blines):
            code.add(first + k)
            if prompts and not b.startswith("$ "):
                continue
            t = norm(b)
            if is_example(t):
                found.append((first + k, t))
    # Code spans in the prose (code block lines blanked out).
    prose = "\n".join("" if i in code else l for i, l in enumerate(lines, 1))
    for m in re.finditer(r"`([^`]+)`", prose):
        t = norm(re.sub(r"\s*\n\s*", " ", m.group(1)))
        if is_example(t):
            found.append((prose.count("\n", 0, m.start()) + 1, t))
    return sorted(found)


def md_output(path, lineno):
    lines = open(path, encoding="utf-8").read().split("\n")
    for first, blines in md_blocks(lines):
        if first <= lineno < first + len(blines):
            out = []
            for b in blines[lineno - first + 1:]:
                if b.startswith("$ "):
                    break
                out.append(b)
            while out and not out[-1]:
                out.pop()
            return out
    return []


def md_block(path, word=None, lineno=None):
    lines = open(path, encoding="utf-8").read().split("\n")
    for first, blines in md_blocks(lines):
        if (any(b.startswith(word) for b in blines) if word is not None
                else first <= lineno < first + len(blines)):
            while blines and not blines[-1]:
                blines.pop()
            return blines
    return []


# ---------------------------------------------------------------- roff
ESCAPES = {"-": "-", "e": "\\", "&": "", " ": " ", "(dq": '"', "(em": "\u2014",
           "(aq": "'", "(rs": "\\"}


def unescape(s):
    s = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", s)
    return re.sub(r"\\(\(..|.)", lambda m: ESCAPES.get(m.group(1), m.group(1)), s)


def roff_args(s):
    """Macro arguments as roff splits them: blanks separate, "..." quotes
    (with "" for a quote inside)."""
    args, i = [], 0
    while i < len(s):
        if s[i] in " \t":
            i += 1
            continue
        if s[i] == '"':
            i += 1
            a = ""
            while i < len(s):
                if s[i] == '"':
                    if s[i + 1:i + 2] == '"':
                        a += '"'
                        i += 2
                        continue
                    i += 1
                    break
                a += s[i]
                i += 1
            args.append(a)
        else:
            j = i
            while j < len(s) and s[j] not in " \t":
                j += 1
            args.append(s[i:j])
            i = j
    return args


def roff_macro(line):
    """(macro, rendered text) of a font macro line, else (macro, None)."""
    m = re.match(r"\.(\w+)\s*(.*)$", line)
    if not m:
        return None, None
    mac, rest = m.group(1), m.group(2)
    args = roff_args(rest)
    if mac in ("B", "I", "SM", "SB"):
        return mac, unescape(" ".join(args))
    if mac in ("BR", "RB", "BI", "IB", "IR", "RI"):
        return mac, unescape("".join(args))
    return mac, None


def man_examples(path):
    found, nf = [], False
    for i, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if line.startswith(".nf"):
            nf = True
            continue
        if line.startswith(".fi"):
            nf = False
            continue
        if line.startswith("."):
            _, text = roff_macro(line)
        elif nf:
            text = unescape(line)
        else:
            continue
        if text is not None:
            t = norm(text)
            if is_example(t):
                found.append((i, t))
    return found


def man_options(path):
    opts, section, tag = [], None, False
    for line in open(path, encoding="utf-8").read().split("\n"):
        if line.startswith(".SH"):
            section = " ".join(roff_args(line[3:]))
            continue
        if section != "OPTIONS":
            continue
        if line.startswith(".TP"):
            tag = True
            continue
        if tag:
            tag = False
            _, text = roff_macro(line)
            if text is None:
                text = unescape(line)
            opts += re.findall(r"(?:^|[\s,])(--?[A-Za-z][\w-]*)", text)
    return opts


def main():
    mode = sys.argv[1]
    if mode == "examples":
        for path in sys.argv[2:]:
            ex = man_examples(path) if re.search(r"\.\d$", path) else md_examples(path)
            for lineno, text in ex:
                print("%s:%d\t%s" % (path, lineno, text))
    elif mode == "output":
        for line in md_output(sys.argv[2], int(sys.argv[3])):
            print(line)
    elif mode == "block":
        for line in md_block(sys.argv[2], sys.argv[3]):
            print(line)
    elif mode == "blockat":
        for line in md_block(sys.argv[2], lineno=int(sys.argv[3])):
            print(line)
    elif mode == "manopts":
        for o in man_options(sys.argv[2]):
            print(o)
    else:
        sys.exit("docexamples.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
