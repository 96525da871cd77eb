"""CODEOWNERS: who owns a path, read the way GitHub reads the file.

GitHub uses the first of ``.github/CODEOWNERS``, ``CODEOWNERS`` and ``docs/CODEOWNERS``. Each
line is a gitignore-style pattern followed by owners (``@user``, ``@org/team`` or an e-mail);
the LAST matching line wins, and a matching line without owners leaves the path unowned. A
pattern with a slash at the start or in the middle is anchored at the root; one ending in a
slash matches everything under a folder; ``*`` stays within a path segment, ``**`` crosses
them. The file is always read from the base branch: a pull request cannot choose its own
reviewers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ci.forge.protocol import Files

#: Where GitHub looks for the file, in order.
LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


@dataclass(frozen=True)
class OwnerRule:
    """One CODEOWNERS line: its pattern, owners and line number."""

    pattern: str
    owners: tuple[str, ...]
    line: int
    regex: re.Pattern[str]


@dataclass(frozen=True)
class CodeOwners:
    """The rules of one CODEOWNERS file (``source``: where it was read; None: there is none)."""

    rules: tuple[OwnerRule, ...] = ()
    source: str | None = None

    def rule_for(self, path: str) -> OwnerRule | None:
        """The rule that decides ``path`` (the last one matching), if any."""
        found = None
        for rule in self.rules:
            if rule.regex.match(path.lstrip("/")):
                found = rule
        return found

    def owners_of(self, path: str) -> tuple[str, ...]:
        """Owners of ``path`` (empty: nobody owns it)."""
        rule = self.rule_for(path)
        return rule.owners if rule else ()


def parse_codeowners(text: str, *, source: str) -> CodeOwners:
    """Read the rules of a CODEOWNERS text (comments and blank lines skipped)."""
    rules = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        pattern, *owners = line.split()
        rules.append(OwnerRule(pattern, tuple(owners), number, pattern_regex(pattern)))
    return CodeOwners(tuple(rules), source)


def read_codeowners(forge: Files, *, ref: str) -> CodeOwners:
    """The CODEOWNERS file GitHub would use at ``ref`` (no file: no rules)."""
    for path in LOCATIONS:
        text = forge.read_file(path=path, ref=ref)
        if text is not None:
            return parse_codeowners(text, source=path)
    return CodeOwners()


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """A CODEOWNERS (gitignore-style) pattern as a regex over ``/``-separated paths."""
    body = pattern.strip("/")
    anchored = pattern.startswith("/") or "/" in body
    folder = pattern.endswith("/")
    out = []
    index = 0
    while index < len(body):
        if body.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif body.startswith("**", index):
            out.append(".*")
            index += 2
        elif body[index] == "*":
            out.append("[^/]*")
            index += 1
        elif body[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(body[index]))
            index += 1
    start = "^" if anchored else "^(?:.*/)?"
    end = "/.*$" if folder else "(?:/.*)?$"
    return re.compile(start + "".join(out) + end)
