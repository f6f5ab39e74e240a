"""Handlebars templates parsed into a tree, as Pinpoint writes message templates.

This is the syntax only: text, `{{expr}}`, `{{{expr}}}`/`{{& expr}}`, blocks `{{#name …}}…
{{else …}}…{{/name}}` and `{{^name}}…{{/name}}`, comments `{{! }}`/`{{!-- --}}`, inline
partials `{{#* inline "n"}}…{{/inline}}` and `{{> n}}`, `\\{{` for literal braces, `~` whitespace
control, and Handlebars.js's rule that a line holding only a block tag, a comment or a partial
leaves no trace in the output. What names mean (helpers, variables) is the translator's business
(templating/handlebars_jinja.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_BLOCK_DEPTH = 30  # blocks inside blocks; Python's own nesting limits sit not far above
MAX_EXPR_DEPTH = 20  # sub-expressions inside sub-expressions


class HandlebarsError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


# Expressions


@dataclass(frozen=True)
class Literal:
    value: str | int | float | bool | None


@dataclass(frozen=True)
class Path:
    """`a.b.[c d].[0]`, `../a`, `this.a`, `@index`, `@root.a`."""

    parts: tuple[str | int, ...]
    original: str
    up: int = 0  # leading `../`
    this: bool = False  # `this.a` or `./a`: the current context only, never a helper
    data: bool = False  # `@name`

    @property
    def simple_name(self) -> str | None:
        """The name when the path is one plain word, which may name a helper."""
        plain = not (self.up or self.this or self.data) and len(self.parts) == 1
        return self.parts[0] if plain and isinstance(self.parts[0], str) else None


@dataclass(frozen=True)
class Call:
    """`head params… key=value…`: a mustache's contents or a sub-expression `( … )`."""

    head: Path | Literal | Call
    params: tuple[Expr, ...]
    hash: tuple[tuple[str, Expr], ...]
    line: int


Expr = Path | Literal | Call


# Statements


@dataclass
class Program:
    nodes: list[Node] = field(default_factory=list)
    partials: dict[str, Program] = field(default_factory=dict)  # `{{#* inline}}` made here


@dataclass
class Text:
    value: str


@dataclass
class Output:
    call: Call
    escaped: bool


@dataclass
class Block:
    call: Call
    program: Program
    inverse: Program | None = None
    block_params: tuple[str, ...] = ()
    inverted: bool = False  # `{{^x}}…{{/x}}`
    chained: bool = False  # opened by `{{else if …}}`, as the inverse of the block before


@dataclass
class Partial:
    name: str
    context: Expr | None
    line: int


Node = Text | Output | Block | Partial


# Scanning: the text between tags, and each tag's kind and tokens.

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
class _Token:
    kind: str
    text: str
    line: int


@dataclass
class _Tag:
    kind: str  # output, raw, open, inverse, else, close, comment, partial, inline
    tokens: list[_Token]
    line: int
    strip_before: bool  # `{{~`
    strip_after: bool  # `~}}`


def _lex(source: str, start: int, close: re.Pattern[str], line: int) -> tuple[list[_Token], int, bool]:
    """The tokens from `start` up to the tag's close; the offset after it and whether the
    close had a `~`."""
    tokens: list[_Token] = []
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
            tokens.append(_Token(kind, m.group(0), line + source.count("\n", start, pos)))
        pos = m.end()
    raise HandlebarsError(line, "a tag opened with {{ is never closed")


_CLOSE = re.compile(r"~?\}\}")
_CLOSE_TRIPLE = re.compile(r"\}~?\}\}")
# What follows `{{` (and a `~`), longest first, and the tag it opens (None: not supported).
_SIGILS: tuple[tuple[str, str | None], ...] = (("{", "raw"), ("&", "raw"), ("#>", None), ("#*", "inline"))
_SIGILS += (("#", "open"), ("^", "inverse"), ("/", "close"), (">", "partial"), ("*", None), ("!", "comment"))


def _scan(source: str) -> list[str | _Tag]:
    items: list[str | _Tag] = []
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


def _tag(source: str, at: int, line: int) -> tuple[_Tag, int]:
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
        return _Tag("comment", [], line, strip_before, "~" in closing.group(0)), closing.end()
    close = _CLOSE_TRIPLE if sigil == "{" else _CLOSE
    tokens, end, strip_after = _lex(source, pos, close, line)
    words = [t for t in tokens if t.kind != "ws"]
    if kind == "output" and words and words[0].text == "else" and (len(words) == 1 or tokens[1].kind == "ws"):
        kind, tokens = "else", tokens[1:]
    elif kind == "inverse" and not words:
        kind = "else"
    return _Tag(kind, tokens, line, strip_before, strip_after), end


def _trim(items: list[str | _Tag]) -> list[str | _Tag]:
    """Apply `~` and drop the lines that hold only a standalone tag, judged on the text as
    written (Handlebars.js's WhitespaceControl)."""
    out = list(items)
    original = list(items)
    for i in range(1, len(items), 2):
        tag = items[i]
        assert isinstance(tag, _Tag)
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


def _str(item: str | _Tag) -> str:
    assert isinstance(item, str)
    return item


# Parsing a tag's tokens.


class _Tokens:
    """A cursor over one tag's tokens; blanks separate arguments and end a path."""

    def __init__(self, tokens: list[_Token], line: int) -> None:
        self.tokens, self.pos, self.line, self.depth = tokens, 0, line, 0

    def peek(self, ahead: int = 0) -> _Token | None:
        """The next token (or the one `ahead` after it), blanks skipped."""
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind == "ws":
            self.pos += 1
        words = (t for t in self.tokens[self.pos :] if t.kind != "ws")
        return next((t for i, t in enumerate(words) if i == ahead), None)

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.fail(None, "more")
        self.pos += 1
        return token

    def fail(self, token: _Token | None, what: str) -> HandlebarsError:
        found = "the end of the tag" if token is None else repr(token.text)
        line = token.line if token is not None else self.tokens[-1].line if self.tokens else self.line
        return HandlebarsError(line, f"expected {what}, found {found}")

    def done(self) -> None:
        token = self.peek()
        if token is not None:
            raise self.fail(token, "the end of the tag")

    def call(self, closing: str | None = None) -> tuple[Call, tuple[str, ...]]:
        """`head params… key=value… [as |a b|]`, up to `closing` (a `)`) or the tag's end."""
        head = self.expr()
        params: list[Expr] = []
        pairs: list[tuple[str, Expr]] = []
        block_params: tuple[str, ...] = ()
        while (token := self.peek()) is not None and token.kind != closing:
            after = self.peek(1)
            if token.kind == "id" and token.text == "as" and after is not None and after.kind == "pipe":
                block_params = self._block_params()
            elif token.kind == "id" and after is not None and after.kind == "eq":
                self.next(), self.next()
                pairs.append((token.text, self.expr()))
            elif pairs:
                raise self.fail(token, "key=value after the first key=value")
            else:
                params.append(self.expr())
        return Call(head, tuple(params), tuple(pairs), self.line), block_params

    def _block_params(self) -> tuple[str, ...]:
        self.next(), self.next()  # as |
        names: list[str] = []
        while (token := self.next()).kind != "pipe":
            if token.kind != "id":
                raise self.fail(token, "a block parameter name")
            names.append(token.text)
        if not names:
            raise HandlebarsError(self.line, "as || names no block parameter")
        return tuple(names)

    def expr(self) -> Expr:
        token = self.next()
        if token.kind == "lparen":
            self.depth += 1
            if self.depth > MAX_EXPR_DEPTH:
                raise HandlebarsError(token.line, "sub-expressions are nested too deeply")
            call, block_params = self.call("rparen")
            if block_params:
                raise HandlebarsError(token.line, "as |…| cannot appear in a sub-expression")
            if self.peek() is None:
                raise self.fail(None, "')'")
            self.next()
            self.depth -= 1
            return call
        if token.kind == "str":
            quote = token.text[0]
            return Literal(token.text[1:-1].replace("\\" + quote, quote))
        if token.kind == "num":
            if len(token.text) > 40:
                raise HandlebarsError(token.line, f"the number {token.text[:20]}… is too long")
            return Literal(float(token.text) if "." in token.text else int(token.text))
        pieces = [token]
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind in _PATH_TOKENS:
            pieces.append(self.tokens[self.pos])
            self.pos += 1
        if len(pieces) == 1 and token.kind == "id" and token.text in _KEYWORDS:
            return Literal(_KEYWORDS[token.text])
        if token.kind not in _PATH_TOKENS:
            raise self.fail(token, "a name or a value")
        return _path(pieces, token.line)


_KEYWORDS: dict[str, bool | None] = {"true": True, "false": False, "null": None, "undefined": None}
_PATH_TOKENS = ("id", "bracket", "sep", "dotdot", "num", "at")


def _path(pieces: list[_Token], line: int) -> Path:
    original = "".join(t.text for t in pieces)
    data = pieces[0].kind == "at"
    body = pieces[1:] if data else pieces
    up, this = 0, False
    parts: list[str | int] = []
    expect_segment = True
    for i, token in enumerate(body):
        if not expect_segment:
            if token.kind != "sep":
                raise HandlebarsError(token.line, f"{original!r} is not a valid name")
            expect_segment = True
            continue
        expect_segment = False
        if token.kind == "dotdot" and len(parts) == 0 and not this and not data:
            up += 1
        elif token.kind == "sep" and token.text == "." and i == 0:
            this = True  # `.` or `./x`
        elif token.kind == "id" and token.text == "this" and not parts and not up and not this and not data:
            this = True
        elif token.kind == "bracket":
            inner = token.text[1:-1]
            parts.append(int(inner) if inner.isdigit() and parts else inner)
        elif token.kind == "num" and parts and token.text.isdigit():
            parts.append(int(token.text))
        elif token.kind == "id":
            parts.append(token.text)
        else:
            raise HandlebarsError(token.line, f"{original!r} is not a valid name")
    if expect_segment and (parts or up) and not (up and not parts and body[-1].kind == "sep"):
        raise HandlebarsError(line, f"{original!r} is not a valid name")
    if data and not parts:
        raise HandlebarsError(line, f"{original!r} is not a valid name")
    return Path(tuple(parts), original, up, this, data)


# Building the tree.


@dataclass
class _Frame:
    target: Program  # where the next node goes
    block: Block | None  # None: the template itself or an inline partial
    close: str  # what `{{/…}}` must name
    line: int
    chained: bool = False  # opened by `{{else if …}}`: closes with the block it continues


def _close_name(call: Call) -> str:
    head = call.head
    return head.original if isinstance(head, Path) else str(getattr(head, "value", ""))


def parse(source: str) -> Program:
    """The template as a tree, or HandlebarsError naming the first line that cannot parse."""
    root = Program()
    frames = [_Frame(root, None, "", 1)]
    for item in _trim(_scan(source)):
        if isinstance(item, str):
            if item:
                frames[-1].target.nodes.append(Text(item))
            continue
        tokens = _Tokens(item.tokens, item.line)
        if item.kind in ("output", "raw"):
            call, block_params = tokens.call()
            tokens.done()
            if block_params:
                raise HandlebarsError(item.line, "as |…| belongs on a block ({{#each … as |x|}})")
            frames[-1].target.nodes.append(Output(call, escaped=item.kind == "output"))
        elif item.kind in ("open", "inverse"):
            call, block_params = tokens.call()
            block = Block(call, Program(), None, block_params, inverted=item.kind == "inverse")
            frames[-1].target.nodes.append(block)
            frames.append(_Frame(block.program, block, _close_name(call), item.line))
        elif item.kind == "inline":
            frames.append(_inline(tokens, frames[-1].target, item.line))
        elif item.kind == "else":
            _else(tokens, frames, item.line)
        elif item.kind == "close":
            _close(tokens, frames, item.line)
        elif item.kind == "partial":
            frames[-1].target.nodes.append(_partial(tokens, item.line))
        if sum(not f.chained for f in frames) - 1 > MAX_BLOCK_DEPTH:
            raise HandlebarsError(item.line, "blocks are nested too deeply")
    open_ = next(f for f in reversed(frames) if not f.chained)
    if open_.block is not None or len(frames) > 1:
        raise HandlebarsError(open_.line, f"{{{{#{open_.close}}}}} is never closed with {{{{/{open_.close}}}}}")
    return root


def _inline(tokens: _Tokens, program: Program, line: int) -> _Frame:
    call, _ = tokens.call()
    name = call.params[0] if len(call.params) == 1 else None
    is_inline = isinstance(call.head, Path) and call.head.simple_name == "inline"
    if not is_inline or not isinstance(name, Literal) or not isinstance(name.value, str) or call.hash:
        raise HandlebarsError(line, 'only {{#* inline "name"}} is supported')
    body = program.partials[name.value] = Program()
    return _Frame(body, None, "inline", line)


def _else(tokens: _Tokens, frames: list[_Frame], line: int) -> None:
    frame = frames[-1]
    if frame.block is None:
        raise HandlebarsError(line, "{{else}} outside a block")
    if frame.block.inverse is not None:
        raise HandlebarsError(line, "a block has a second {{else}}")
    frame.block.inverse = Program()
    if tokens.peek() is None:
        frame.target = frame.block.inverse
        return
    call, block_params = tokens.call()
    chained = Block(call, Program(), None, block_params, chained=True)
    frame.block.inverse.nodes.append(chained)
    frames.append(_Frame(chained.program, chained, frame.close, line, chained=True))


def _close(tokens: _Tokens, frames: list[_Frame], line: int) -> None:
    name = "".join(t.text for t in tokens.tokens if t.kind != "ws")
    while frames[-1].chained:
        frames.pop()
    frame = frames[-1]
    if len(frames) == 1:
        raise HandlebarsError(line, f"{{{{/{name}}}}} closes no block")
    if frame.close != name:
        opened = f"{{{{#{frame.close}}}}} opened on line {frame.line}"
        raise HandlebarsError(line, f"{{{{/{name}}}}} does not close {opened}")
    frames.pop()


def _partial(tokens: _Tokens, line: int) -> Partial:
    name = tokens.expr()
    if isinstance(name, Literal) and isinstance(name.value, str):
        label = name.value
    elif isinstance(name, Path) and not (name.up or name.this or name.data):
        label = name.original
    else:
        raise HandlebarsError(line, "a partial is named by a word or a quoted string")
    context = tokens.expr() if tokens.peek() is not None else None
    if tokens.peek() is not None:
        raise HandlebarsError(line, "partials take no parameters besides a context")
    return Partial(label, context, line)
