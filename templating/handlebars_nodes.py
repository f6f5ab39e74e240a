"""The tree a Handlebars template parses into (templating/handlebars.py builds it,
templating/handlebars_jinja.py translates it), and the error that names the line that cannot
parse.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
