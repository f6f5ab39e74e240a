"""Handlebars templates parsed into a tree, as Pinpoint writes message templates.

This is the syntax only (the tree's nodes: templating/handlebars_nodes.py; text and tags:
templating/handlebars_scan.py): text, `{{expr}}`, `{{{expr}}}`/`{{& expr}}`, blocks `{{#name …}}…
{{else …}}…{{/name}}` and `{{^name}}…{{/name}}`, comments `{{! }}`/`{{!-- --}}`, inline
partials `{{#* inline "n"}}…{{/inline}}` and `{{> n}}`, `\\{{` for literal braces, `~` whitespace
control, and Handlebars.js's rule that a line holding only a block tag, a comment or a partial
leaves no trace in the output. What names mean (helpers, variables) is the translator's business
(templating/handlebars_jinja.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from templating.handlebars_nodes import (
    Block,
    Call,
    Expr,
    HandlebarsError,
    Literal,
    Output,
    Partial,
    Path,
    Program,
    Text,
)
from templating.handlebars_scan import Token, scan, trim

MAX_BLOCK_DEPTH = 30  # blocks inside blocks; Python's own nesting limits sit not far above
MAX_EXPR_DEPTH = 20  # sub-expressions inside sub-expressions


# Parsing a tag's tokens.


class _Tokens:
    """A cursor over one tag's tokens; blanks separate arguments and end a path."""

    def __init__(self, tokens: list[Token], line: int) -> None:
        self.tokens, self.pos, self.line, self.depth = tokens, 0, line, 0

    def peek(self, ahead: int = 0) -> Token | None:
        """The next token (or the one `ahead` after it), blanks skipped."""
        while self.pos < len(self.tokens) and self.tokens[self.pos].kind == "ws":
            self.pos += 1
        words = (t for t in self.tokens[self.pos :] if t.kind != "ws")
        return next((t for i, t in enumerate(words) if i == ahead), None)

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail(None, "more")
        self.pos += 1
        return token

    def fail(self, token: Token | None, what: str) -> HandlebarsError:
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


def _path(pieces: list[Token], line: int) -> Path:
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
    for item in trim(scan(source)):
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
