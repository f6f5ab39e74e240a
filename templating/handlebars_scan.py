"""Scanning a Handlebars template: the text between tags, each tag's kind and tokens, `\\{{`
for literal braces, `~` whitespace control and Handlebars.js's rule that a line holding only a
block tag, a comment or a partial leaves no trace in the output (templating/handlebars.py parses
the tags into a tree).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from templating.handlebars_nodes import HandlebarsError

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<lparen>\()|(?P<rparen>\))
    |(?P<str>"(?:\\"|[^"])*"|'(?:\\'|[^'])*')
    |(?P<num>-?\d+(?:\.\d+)?(?=[~}\s)|=]|$))
    |(?P<eq>=)|(?P<pipe>\|)
    |(?P<bracket>\[[^\]]*\])
    |(?P<dotdot>\.\.)|(?P<sep>[./])|(?P<at>@)
    |(?P<id>[^\s!"\#%&'()*+,./;<=>@\[\\\]^`{|}~]+)""",
    re.VERBOSE,
)
# Which tags stand alone on a line (and then take the line with them).
_STANDALONE = {"open", "inverse", "else", "close", "comment", "partial", "inline"}


@dataclass
class Token:
    kind: str
    text: str
    line: int


@dataclass
class Tag:
    kind: str  # output, raw, open, inverse, else, close, comment, partial, inline
    tokens: list[Token]
    line: int
    strip_before: bool  # `{{~`
    strip_after: bool  # `~}}`


def _lex(source: str, start: int, close: re.Pattern[str], line: int) -> tuple[list[Token], int, bool]:
    """The tokens from `start` up to the tag's close; the offset after it and whether the
    close had a `~`."""
    tokens: list[Token] = []
    pos = start
    while pos < len(source):
        end = close.match(source, pos)
        if end:
            return tokens, end.end(), "~" in end.group(0)
        m = _TOKEN.match(source, pos)
        if m is None:
            raise HandlebarsError(line + source.count("\n", start, pos), f"unexpected {source[pos]!r} in a tag")
        kind = m.lastgroup or ""
        if kind != "ws" or (tokens and tokens[-1].kind != "ws"):
            tokens.append(Token(kind, m.group(0), line + source.count("\n", start, pos)))
        pos = m.end()
    raise HandlebarsError(line, "a tag opened with {{ is never closed")


_CLOSE = re.compile(r"~?\}\}")
_CLOSE_TRIPLE = re.compile(r"\}~?\}\}")
# What follows `{{` (and a `~`), longest first, and the tag it opens (None: not supported).
_SIGILS: tuple[tuple[str, str | None], ...] = (("{", "raw"), ("&", "raw"), ("#>", None), ("#*", "inline"))
_SIGILS += (("#", "open"), ("^", "inverse"), ("/", "close"), (">", "partial"), ("*", None), ("!", "comment"))


def scan(source: str) -> list[str | Tag]:
    """Text and tags alternating, text first and last (an empty string where there is none)."""
    items: list[str | Tag] = []
    text: list[str] = []
    pos, line, counted = 0, 1, 0
    while (at := source.find("{{", pos)) >= 0:
        slashes = len(source[pos:at]) - len(source[pos:at].rstrip("\\"))
        if slashes % 2:  # `\{{` prints `{{`; `\\{{` prints `\` and opens a tag
            text.append(source[pos : at - 1] + "{{")
            pos = at + 2
            continue
        text.append(source[pos : at - slashes // 2] if slashes else source[pos:at])
        items.append("".join(text))
        text = []
        line += source.count("\n", counted, at)
        counted = at
        tag, pos = _tag(source, at, line)
        items.append(tag)
    items.append("".join(text) + source[pos:])
    return items


def _tag(source: str, at: int, line: int) -> tuple[Tag, int]:
    if source.startswith("{{{{", at):
        raise HandlebarsError(line, "raw blocks {{{{ }}}} are not supported")
    pos = at + 2
    strip_before = source.startswith("~", pos)
    pos += strip_before
    sigil, kind = next(((s, k) for s, k in _SIGILS if source.startswith(s, pos)), ("", "output"))
    if kind is None:
        raise HandlebarsError(line, f"{{{{{sigil} is not supported")
    pos += len(sigil)
    if kind == "comment":
        long = source.startswith("--", pos)
        closing = re.compile(r"--~?\}\}" if long else r"~?\}\}").search(source, pos)
        if closing is None:
            raise HandlebarsError(line, "a comment is never closed")
        return Tag("comment", [], line, strip_before, "~" in closing.group(0)), closing.end()
    close = _CLOSE_TRIPLE if sigil == "{" else _CLOSE
    tokens, end, strip_after = _lex(source, pos, close, line)
    words = [t for t in tokens if t.kind != "ws"]
    if kind == "output" and words and words[0].text == "else" and (len(words) == 1 or tokens[1].kind == "ws"):
        kind, tokens = "else", tokens[1:]
    elif kind == "inverse" and not words:
        kind = "else"
    return Tag(kind, tokens, line, strip_before, strip_after), end


def trim(items: list[str | Tag]) -> list[str | Tag]:
    """Apply `~` and drop the lines that hold only a standalone tag, judged on the text as
    written (Handlebars.js's WhitespaceControl)."""
    out = list(items)
    original = list(items)
    for i in range(1, len(items), 2):
        tag = items[i]
        assert isinstance(tag, Tag)
        before, after = original[i - 1], original[i + 1]
        assert isinstance(before, str) and isinstance(after, str)
        if tag.kind in _STANDALONE:
            head = before.rsplit("\n", 1)[-1]
            tail = after.split("\n", 1)[0]
            first, last = i == 1, i == len(items) - 2
            if not head.strip() and ("\n" in before or first) and not tail.strip() and ("\n" in after or last):
                out[i - 1] = _str(out[i - 1])[: len(_str(out[i - 1])) - len(head)]
                out[i + 1] = _str(out[i + 1])[len(tail) + 1 :] if "\n" in after else ""
        if tag.strip_before:
            out[i - 1] = _str(out[i - 1]).rstrip()
        if tag.strip_after:
            out[i + 1] = _str(out[i + 1]).lstrip()
    return out


def _str(item: str | Tag) -> str:
    assert isinstance(item, str)
    return item
