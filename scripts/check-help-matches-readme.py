#!/usr/bin/python3
"""Fails when `kinesyslog listen --help` and the README's option table disagree.

Every `--option` that --help lists must have a row in the option table under README.md's
"## Usage", and every option the table names must be one --help lists. Prints the options that
differ. Run from anywhere: /usr/bin/python3 scripts/check-help-matches-readme.py
[--binary build/release/kinesyslog] [--readme README.md]
"""
import argparse
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OPTION = re.compile(r"--[a-z0-9][a-z0-9-]*")


def help_options(binary):
    """Options in the first column of `listen --help` (descriptions may name options too)."""
    text = subprocess.run([str(binary), "listen", "--help"], check=True, capture_output=True,
                          text=True).stdout
    found = set()
    for line in text.splitlines():
        # Option lines are indented by two spaces; continuation lines of a long option are
        # indented much further and hold only a description.
        if not line.startswith("  ") or line.startswith("   "):
            continue
        found.update(OPTION.findall(line.split()[0]))
    return found


def readme_options(readme):
    """Options in the first cell of each row of the table that follows "## Usage"."""
    lines = readme.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index("## Usage")
    except ValueError:
        sys.exit(f"{readme}: no '## Usage' section")
    found, in_table = set(), False
    for line in lines[start + 1:]:
        if line.startswith("| option |"):
            in_table = True
            continue
        if in_table:
            if not line.startswith("|"):
                break
            first_cell = line.split("|")[1]
            found.update(OPTION.findall(first_cell))
    if not in_table:
        sys.exit(f"{readme}: no option table ('| option | ...') under '## Usage'")
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=REPO / "build" / "release" / "kinesyslog")
    ap.add_argument("--readme", default=REPO / "README.md", type=Path)
    args = ap.parse_args()
    in_help = help_options(args.binary)
    in_readme = readme_options(args.readme)
    only_help = sorted(in_help - in_readme)
    only_readme = sorted(in_readme - in_help)
    for option in only_help:
        print(f"{option}: in `kinesyslog listen --help` but not in the option table of "
              f"{args.readme}")
    for option in only_readme:
        print(f"{option}: in the option table of {args.readme} but not in "
              "`kinesyslog listen --help`")
    if only_help or only_readme:
        return 1
    print(f"listen --help and the README's option table name the same {len(in_help)} options")
    return 0


if __name__ == "__main__":
    sys.exit(main())
