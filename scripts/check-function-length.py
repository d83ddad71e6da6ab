#!/usr/bin/python3
"""Fails when a function in src/ is longer than 80 lines, or a production .cc has no test.

Function length: every function body in production code under src/ (every file but the
`*_test.cc` files) counts from the line that names the function to its closing brace; a lambda
counts towards the function it is written in. GoogleTest bodies (`TEST`, `TEST_F`, `TEST_P`) are
exempt: a test reads top to bottom as one story. Helpers in test files are checked like
production code.

Test coverage: every production `foo.cc` has a `foo_test.cc` beside it, or its first line is a
comment naming the tests that cover it (`// Covered by net/worker_test.cc and ...`, over as many
`//` lines as it needs), and each test file that sentence names exists (under src/ or tests/).

The scanner matches braces after blanking comments, string and character literals (raw strings
too) and preprocessor lines; it does not parse C++, so it classifies a brace at namespace or
class scope as a function body when the text before it ends like a function header (`)`,
`const`, `noexcept`, `override`, a trailing return type). Prints `file:line name length` for each
offender and exits 1. Run from anywhere: /usr/bin/python3 scripts/check-function-length.py
[--max 80] [PATH...]
"""
import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 80
TEST_MACROS = {"TEST", "TEST_F", "TEST_P", "TYPED_TEST", "TYPED_TEST_P"}
CONTROL = {"if", "for", "while", "switch", "catch", "do", "else", "try", "return"}
HEADER_TAIL_WORDS = {"const", "noexcept", "override", "final", "mutable"}
COVERED_BY = re.compile(r"^//\s*Covered by\b(.*)$", re.S)
TEST_FILE = re.compile(r"[\w./-]+_test\.(?:cc|py)|tests/[\w./-]+\.py|[\w./-]+_fuzz\.cc")


def blank(text):
    """The text with comments, literals and preprocessor lines replaced by spaces (newlines
    kept, so line numbers stay right)."""
    out = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            # A preprocessor line, with its backslash continuations.
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        line_start = False
        if c == "\n":
            out.append(c)
            line_start = True
            i += 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                out.append(" ")
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == "R" and i + 1 < n and text[i + 1] == '"' and (i == 0 or not (
                text[i - 1].isalnum() or text[i - 1] == "_") or text[i - 1] in "u8LU"):
            open_paren = text.find("(", i + 2)
            delimiter = text[i + 2:open_paren]
            end = text.find(")" + delimiter + '"', open_paren)
            end = n if end < 0 else end + len(delimiter) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c in "\"'":
            # A digit separator (1'000'000) is not a character literal.
            if c == "'" and i > 0 and text[i - 1].isalnum() and i + 1 < n and text[i + 1].isalnum():
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(" " * (min(j, n - 1) + 1 - i))
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def header_kind(header):
    """(is_function, name) for the text between the previous `;`, `{` or `}` and a `{`."""
    stripped = header.strip()
    if not stripped:
        return False, None
    words = re.findall(r"[A-Za-z_]\w*", stripped)
    if words and words[0] in CONTROL:
        return False, None
    tail = stripped.rstrip()
    last_word = re.search(r"([A-Za-z_]\w*)\s*$", tail)
    after_paren = tail[tail.rfind(")") + 1:] if ")" in tail else ""
    looks_like_function = (
        tail.endswith(")")
        or (last_word is not None and last_word.group(1) in HEADER_TAIL_WORDS and ")" in tail)
        or ("->" in after_paren and ")" in tail))
    if not looks_like_function:
        return False, None
    if re.match(r"(namespace|class|struct|union|enum)\b", stripped):
        return False, None
    paren = stripped.find("(")
    before = stripped[:paren].rstrip()
    if before.endswith("]"):
        return True, "lambda"
    name = re.search(r"([~\w:]+(?:\s*operator\s*\S+)?)\s*$", before)
    name = name.group(1) if name else before.split()[-1] if before.split() else "?"
    if name in TEST_MACROS:
        args = stripped[paren:stripped.find(")", paren) + 1]
        name += re.sub(r"\s+", "", args)
    return True, name


def functions(text):
    """Yields (start line, name, length in lines) for each function body at namespace or class
    scope."""
    code = blank(text)
    line_of = [0] * (len(code) + 1)
    line = 1
    for index, char in enumerate(code):
        line_of[index] = line
        if char == "\n":
            line += 1
    line_of[len(code)] = line
    header_start = 0
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c in ";}":
            header_start = i + 1
        elif c == "{":
            is_function, name = header_kind(code[header_start:i])
            if is_function:
                depth, j = 1, i + 1
                while j < n and depth:
                    if code[j] == "{":
                        depth += 1
                    elif code[j] == "}":
                        depth -= 1
                    j += 1
                header = code[header_start:i]
                offset = header.find(name.split("(")[0]) if name != "lambda" else -1
                first = header_start + (offset if offset >= 0 else len(header) - len(
                    header.lstrip()))
                start = line_of[first]
                yield start, name, line_of[j - 1] - start + 1
                i = j
                header_start = j
                continue
            header_start = i + 1
        i += 1


def covered_sentence(path):
    """The file's opening comment (its leading `//` lines, joined) when it starts "Covered by"."""
    lines = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("//"):
                break
            lines.append(line[2:].strip())
    match = COVERED_BY.match("// " + " ".join(lines)) if lines else None
    return match.group(1) if match else None


def coverage_problems(src):
    problems = []
    for cc in sorted(src.rglob("*.cc")):
        if cc.name.endswith("_test.cc"):
            continue
        if cc.with_name(cc.stem + "_test.cc").exists():
            continue
        sentence = covered_sentence(cc)
        if sentence is None:
            problems.append(f"{cc.relative_to(REPO)}:1 has no {cc.stem}_test.cc beside it and "
                            "no first-line '// Covered by ...' sentence")
            continue
        named = TEST_FILE.findall(sentence)
        if not named:
            problems.append(f"{cc.relative_to(REPO)}:1 'Covered by' names no test file")
        for test in named:
            if not ((src / test).exists() or (REPO / test).exists()):
                problems.append(f"{cc.relative_to(REPO)}:1 names {test}, which does not exist")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=MAX_LINES)
    parser.add_argument("--list", type=int, metavar="N",
                        help="print the N longest functions and exit 0")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    src = REPO / "src"
    files = args.paths or sorted(p for p in src.rglob("*") if p.suffix in (".cc", ".h"))
    found = []
    for path in files:
        for start, name, length in functions(path.read_text(encoding="utf-8")):
            if name.split("(")[0] in TEST_MACROS:
                continue
            found.append((length, path, start, name))
    if args.list:
        for length, path, start, name in sorted(found, reverse=True)[:args.list]:
            print(f"{path.resolve().relative_to(REPO)}:{start} {name} {length}")
        return 0
    failed = False
    for length, path, start, name in sorted(found, key=lambda f: (str(f[1]), f[2])):
        if length > args.max:
            print(f"{path.resolve().relative_to(REPO)}:{start} {name} {length} lines "
                  f"(at most {args.max})")
            failed = True
    if not args.paths:
        for problem in coverage_problems(src):
            print(problem)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
