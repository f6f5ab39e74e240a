"""A parsed Handlebars template written out as Jinja2 source for the sandbox to run.

Text with a brace in it goes out in `{% raw %}` blocks, so nothing in it is ever read as Jinja
(text without one cannot be). Every helper and
runtime function is reached through one global, `_hb`; a plain path at the top level stays a
plain Jinja path (`{{Attributes.City.[0]}}` is `{{Attributes.City[0]}}`), so variable names can
still be listed from the Jinja AST.

Contexts follow Handlebars: `{{#each}}`, `{{#with}}` and sections make the item the context;
inside them a name is looked up in the item first and then in each enclosing context out to the
root (Mustache's rule, which handlebars.java also keeps), `this.x` and `../x` look in one
context only. Inline partials are expanded where they are used; a partial that includes itself
is refused, and so is a template that expands more than MAX_EXPANSIONS of them or grows past
MAX_SOURCE.

Everything a template can name is checked here, so an unknown helper, a wrong number of
arguments or an unknown option is refused when the template is written, with its line.
"""

from __future__ import annotations

import keyword
from collections import ChainMap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from templating.handlebars import MAX_BLOCK_DEPTH
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
from templating.helpers import HELPERS

RUNTIME = "_hb"  # the global holding helpers and runtime functions; context keys may not use it
ROOT = "_hb_root"  # the variables themselves, as one value
MAX_SOURCE = 2_000_000  # characters of Jinja source, partials expanded
MAX_EXPANSIONS = 1_000  # partials expanded in one template, counting those inside partials
MAX_CONTEXTS = 8  # each/with/sections inside one another (Python allows 20 nested loops)
# Names a top-level path cannot take as a bare Jinja name (Jinja constants, operators, specials).
_JINJA_WORDS = frozenset(
    "and or not in is if else elif true false none True False None self loop caller varargs kwargs super".split()
)


@dataclass(frozen=True)
class _Scope:
    context: str  # the Jinja expression for `this`
    parent: _Scope | None = None
    params: dict[str, str] = field(default_factory=dict)  # `as |item index|`
    data: dict[str, str] = field(default_factory=dict)  # @index, @key, @first, @last

    def chain(self) -> list[_Scope]:
        scopes: list[_Scope] = []
        scope: _Scope | None = self
        while scope is not None:
            scopes.append(scope)
            scope = scope.parent
        return scopes


def _plain(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and name not in _JINJA_WORDS


def _literal(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "none"}[value]
    return repr(value)


def _subscripts(base: str, parts: tuple[str | int, ...]) -> str:
    out = [base]
    for part in parts:
        out.append(f".{part}" if isinstance(part, str) and _plain(part) else f"[{_literal(part)}]")
    return "".join(out)


def _root_path(parts: tuple[str | int, ...]) -> str:
    if not parts:
        return ROOT
    first = parts[0]
    if isinstance(first, str) and _plain(first) and not first.startswith(RUNTIME):
        return _subscripts(first, parts[1:])
    return _subscripts(ROOT, parts)


def _text(value: str) -> str:
    if "{" not in value:  # nothing Jinja could read as a tag, even next to the tag that follows
        return value
    # `{%` is the only way out of a raw block, so it is printed as an expression instead.
    raw = "{% endraw %}{{'{%'}}{% raw %}".join(value.split("{%"))
    return "{% raw %}" + raw + "{% endraw %}"


class _Writer:
    def __init__(self) -> None:
        self.out: list[str] = []
        self.size = 0
        self.names = 0
        self.expanding: list[str] = []  # partials being expanded, innermost last
        self.expansions = 0
        self.depth = 0  # blocks and partials around what is being written
        self.line = 1  # of the last tag written

    def emit(self, piece: str, line: int | None = None) -> None:
        self.size += len(piece)
        if self.size > MAX_SOURCE:
            where = self.line if line is None else line
            raise HandlebarsError(where, "the template is too large once its partials are expanded")
        self.out.append(piece)

    def fresh(self) -> int:
        self.names += 1
        return self.names

    # Expressions

    def path(self, p: Path, scope: _Scope) -> str:
        if p.data:
            name, rest = p.parts[0], p.parts[1:]
            if name == "root":
                return _root_path(rest)
            found = next((s.data[str(name)] for s in scope.chain() if str(name) in s.data), None)
            return "none" if found is None else _subscripts(found, rest)
        if p.up or p.this:
            chain = scope.chain()
            target = chain[min(p.up, len(chain) - 1)]
            return _root_path(p.parts) if target.parent is None else _subscripts(target.context, p.parts)
        first = p.parts[0]
        for s in scope.chain():
            if isinstance(first, str) and first in s.params:
                return _subscripts(s.params[first], p.parts[1:])
        if scope.parent is None:
            return _root_path(p.parts)
        contexts = ", ".join(s.context for s in scope.chain())
        return f"{RUNTIME}.lookup([{contexts}], [{', '.join(_literal(x) for x in p.parts)}])"

    def expr(self, e: Expr, scope: _Scope) -> str:
        if isinstance(e, Literal):
            return _literal(e.value)
        if isinstance(e, Path):
            return self.path(e, scope)
        name = e.head.simple_name if isinstance(e.head, Path) else None
        if name not in HELPERS:
            raise HandlebarsError(e.line, f"{_label(e.head)} is not a helper")
        return self.helper(name, e, scope)

    def helper(self, name: str, call: Call, scope: _Scope, block: bool = False) -> str:
        spec = HELPERS[name]
        n = len(call.params)
        if n < spec.min_args or (spec.max_args is not None and n > spec.max_args):
            most = "any number of" if spec.max_args is None else str(spec.max_args)
            wanted = str(spec.min_args) if spec.min_args == spec.max_args else f"{spec.min_args} to {most}"
            raise HandlebarsError(call.line, f"{name} takes {wanted} arguments, not {n}")
        for key, _ in call.hash:
            if key not in spec.options or (block and key in ("yes", "no")):
                raise HandlebarsError(call.line, f"{name} has no option {key}=")
        args = [self.arg(p, i in spec.words, scope) for i, p in enumerate(call.params)]
        args += [f"{key}={self.arg(v, key in spec.words, scope)}" for key, v in call.hash]
        return f"{RUNTIME}.{name}({', '.join(args)})"

    def arg(self, e: Expr, word: bool, scope: _Scope) -> str:
        value = self.expr(e, scope)
        if word and isinstance(e, Path) and not (e.data or e.this or e.up):
            return f"{RUNTIME}.word({value}, {_literal(e.original)})"
        return value

    def value(self, call: Call, scope: _Scope) -> str:
        """What `{{…}}` prints: a helper's result, or a variable's value."""
        name = call.head.simple_name if isinstance(call.head, Path) else None
        if name in HELPERS and (call.params or call.hash or HELPERS[name].min_args == 0):
            return self.helper(name, call, scope)
        if call.params or call.hash:
            raise HandlebarsError(call.line, f"{_label(call.head)} is not a helper")
        return self.expr(call.head, scope)

    # Statements

    def program(self, program: Program, scope: _Scope, partials: ChainMap[str, Program]) -> None:
        partials = partials.new_child(program.partials)
        for node in program.nodes:
            if isinstance(node, Text):
                self.emit(_text(node.value))
                continue
            self.line = node.call.line if isinstance(node, Output | Block) else node.line
            if isinstance(node, Output):
                value = self.value(node.call, scope)
                self.emit("{{" + (value if node.escaped else f"{RUNTIME}.raw({value})") + "}}", node.call.line)
            else:
                with self.nested(self.line):
                    if isinstance(node, Block):
                        self.block(node, scope, partials)
                    else:
                        self.partial(node, scope, partials)

    @contextmanager
    def nested(self, line: int) -> Iterator[None]:
        """One block or partial deeper; partials count, as they are expanded in place."""
        self.depth += 1
        if self.depth > MAX_BLOCK_DEPTH:
            raise HandlebarsError(line, "blocks and partials are nested too deeply")
        yield
        self.depth -= 1

    def block(self, b: Block, scope: _Scope, partials: ChainMap[str, Program]) -> None:
        call, line = b.call, b.call.line
        name = call.head.simple_name if isinstance(call.head, Path) else None
        if name in ("each", "with"):
            if len(call.params) != 1 or call.hash or b.inverted:
                raise HandlebarsError(line, f"{{{{#{name}}}}} takes one value: {{{{#{name} Attributes.Items}}}}")
            self.context_block(b, scope, partials, name)
        elif name in HELPERS:
            if not HELPERS[name].conditional:
                raise HandlebarsError(line, f"{name} cannot open a block; write {{{{{name} …}}}}")
            self.branches(self.condition(b, scope), b, scope, partials)
        elif call.params or call.hash:
            raise HandlebarsError(line, f"{_label(call.head)} is not a helper")
        elif b.block_params:
            raise HandlebarsError(line, f"{{{{#{_label(call.head)}}}}} takes no block parameters")
        elif b.inverted:
            test = f"not {RUNTIME}.truthy({self.expr(call.head, scope)})"
            self.branches(test, b, scope, partials)
        else:
            self.context_block(b, scope, partials, "section")

    def branches(
        self, test: str, b: Block, scope: _Scope, partials: ChainMap[str, Program], outer: _Scope | None = None
    ) -> None:
        """`{% if test %}` the block `{% else %}` its inverse, which runs in `outer` if given;
        `{{else if …}}` chains become `{% elif %}` rather than ever deeper nesting."""
        self.emit(f"{{% if {test} %}}", b.call.line)
        self.program(b.program, scope, partials)
        inverse, outer = b.inverse, outer or scope
        while inverse is not None and (link := _chained_condition(inverse)) is not None:
            self.emit(f"{{% elif {self.condition(link, outer)} %}}", link.call.line)
            self.program(link.program, outer, partials)
            inverse = link.inverse
        if inverse is not None:
            self.emit("{% else %}", b.call.line)
            self.program(inverse, outer, partials)
        self.emit("{% endif %}", b.call.line)

    def condition(self, b: Block, scope: _Scope) -> str:
        name = b.call.head.simple_name if isinstance(b.call.head, Path) else None
        assert name is not None
        if b.block_params:
            raise HandlebarsError(b.call.line, f"{{{{#{name}}}}} takes no block parameters")
        test = self.helper(name, b.call, scope, block=True)
        return f"not {test}" if b.inverted else test

    def context_block(self, b: Block, scope: _Scope, partials: ChainMap[str, Program], kind: str) -> None:
        """`each`, `with` and sections: the body runs with a new context."""
        line = b.call.line
        _check_contexts(scope, line)
        n = self.fresh()
        item, key, index, first, last = (f"_hb_{x}{n}" for x in "vkifl")
        if len(b.block_params) > (1 if kind == "with" else 2):
            raise HandlebarsError(line, f"too many block parameters for {{{{#{kind}}}}}")
        params = dict(zip(b.block_params, (item, key), strict=False))
        value = self.expr(b.call.params[0] if kind != "section" else b.call.head, scope)
        if kind == "with":
            inner = _Scope(item, scope, params)
            self.emit(f"{{% with {item} = {value} %}}", line)
            self.branches(f"{RUNTIME}.truthy({item})", b, inner, partials, outer=scope)
            self.emit("{% endwith %}", line)
            return
        data = {"index": index, "key": key, "first": first, "last": last}
        inner = _Scope(item, scope, params, data)
        source = f"{RUNTIME}.each({value})" if kind == "each" else f"{RUNTIME}.section({value}, {scope.context})"
        self.emit(f"{{% for {key}, {item}, {index}, {first}, {last} in {source} %}}", line)
        self.program(b.program, inner, partials)
        if b.inverse is not None:
            self.emit("{% else %}", line)
            self.program(b.inverse, scope, partials)
        self.emit("{% endfor %}", line)

    def partial(self, p: Partial, scope: _Scope, partials: ChainMap[str, Program]) -> None:
        body = partials.get(p.name)
        if body is None:
            raise HandlebarsError(p.line, f'no partial named {p.name!r}; define it with {{{{#* inline "{p.name}"}}}}')
        if p.name in self.expanding:
            raise HandlebarsError(p.line, f"partial {p.name!r} includes itself")
        self.expansions += 1
        if self.expansions > MAX_EXPANSIONS:
            raise HandlebarsError(p.line, f"partials are expanded more than {MAX_EXPANSIONS} times")
        self.expanding.append(p.name)
        if p.context is None:
            self.program(body, scope, partials)
        else:
            _check_contexts(scope, p.line)
            item = f"_hb_v{self.fresh()}"
            self.emit(f"{{% with {item} = {self.expr(p.context, scope)} %}}", p.line)
            self.program(body, _Scope(item, scope), partials)
            self.emit("{% endwith %}", p.line)
        self.expanding.pop()


def _check_contexts(scope: _Scope, line: int) -> None:
    if len(scope.chain()) > MAX_CONTEXTS:  # the root and MAX_CONTEXTS blocks already
        raise HandlebarsError(line, "each, with and section blocks are nested too deeply")


def _chained_condition(inverse: Program) -> Block | None:
    """The `{{else if …}}` (or other conditional helper) an inverse consists of, if it does."""
    if len(inverse.nodes) != 1 or inverse.partials:
        return None
    link = inverse.nodes[0]
    if not isinstance(link, Block) or not link.chained or not isinstance(link.call.head, Path):
        return None
    helper = HELPERS.get(link.call.head.simple_name or "")
    return link if helper is not None and helper.conditional else None


def _label(head: Path | Literal | Call) -> str:
    if isinstance(head, Path):
        return repr(head.original)
    return "a sub-expression" if isinstance(head, Call) else repr(head.value)


def translate(program: Program) -> str:
    writer = _Writer()
    writer.program(program, _Scope(ROOT), ChainMap())
    return "".join(writer.out)
