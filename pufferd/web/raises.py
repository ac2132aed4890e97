"""The HTTP statuses each route can answer, read from the code that answers them.

/openapi.json lists for every operation the statuses it can give (pufferd/web/openapi.py). They
are not kept by hand: this module reads the route's view (pufferd/web/route.py) and, following
calls, every pufferd function it can reach, and collects
- the errors that can leave it: `raise X(...)`, `raise X`, `raise make_error(...)` or
  `raise value`, where X, the factory's return annotation or the value's inferred type is a
  DomainError (pufferd/errors.py: the error middleware answers its `status`) or an aiohttp
  HTTPException (its `status_code`), less what an enclosing `try` catches without re-raising;
- the statuses of the responses it builds (`web.Response(status=304)`, `web.StreamResponse`).

How calls are followed (statically, with `ast`; nothing is executed):
- names resolve through the function's module globals and closure: `messages.send(...)` is
  `send` of pufferd.messages. Nested functions and lambdas (`def send_txn(conn)`) are read where
  they are defined, as if called there; a pufferd function passed as an argument
  (`ctx.db.write(chats_q.txn)`) counts as called.
- `obj.method(...)` follows obj's type: annotations of parameters, of return values and of class
  attributes (`ctx.limiter` is the `Limiter` of `Context`), `request.app[CTX]` (the AppKey's
  type), `self.x = ...` in the class's methods and tuple unpacking. A Protocol (`Mailer`,
  `BlobStore`) stands for every pufferd class that implements it. A method of a library's object
  (`request.headers.get`, `conn.execute`) is the library's and is not followed. When the type is
  unknown, every method of that name counts, in the pufferd classes the calling module can see
  (the modules it imports, transitively: imports point down, so domain code never holds a
  web.route.Router): over-approximate rather than miss, without pulling in the whole program.
- an `if` or `for` that depends only on values fixed when the route was declared (the view's
  closure: `if r.auth:`, `for name, typ in converters.items()`) takes only the branch that runs,
  and code after a `return` on such a branch is not read: a route without a body does not
  document the body's 400, a 204 route no 200. A shared helper counts only for the routes that
  reach it.
- aiohttp itself: reading a body over client_max_size (`request.read()`) is 413.

Limits: code run through properties, `__getattr__`, callbacks registered at start-up (hooks), the
app's middlewares and errors of libraries other than aiohttp's body reading are not followed; an
integrity error turned into 409 by the database's writer thread (db/database.py) is not counted,
as the domain checks each 409 it means before writing. A `raise` or response status the analysis
cannot type, and a function whose source file no longer matches the running code, are listed by
`unresolved()` (a test keeps that empty; the document's build logs them). Results are memoised
per function and computed on first use (the first GET /openapi.json), never at import.
"""
from __future__ import annotations

import ast
import builtins
import collections.abc
import functools
import importlib
import inspect
import operator
import sys
import threading
import types
import typing
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from pufferd.errors import DomainError

if typing.TYPE_CHECKING:
    from pufferd.web.route import Route

_PACKAGE = "pufferd"
# aiohttp raises HTTPRequestEntityTooLarge from these when the body exceeds client_max_size
_BODY_READERS = frozenset({"read", "text", "json", "post"})
# FileResponse answers Range and conditional requests by itself
_FILE_STATUSES = frozenset({200, 206, 304, 412, 416})
_ITERABLES = (list, set, frozenset, tuple, collections.abc.Iterable, collections.abc.Iterator,
              collections.abc.Sequence, collections.abc.AsyncIterator, collections.abc.AsyncIterable,
              collections.abc.Set)
# literals and comprehensions: builtin values, whose methods are not ours
_DISPLAYS: list[tuple[tuple[type, ...], type]] = [
    ((ast.Dict, ast.DictComp), dict), ((ast.List, ast.ListComp), list), ((ast.Set, ast.SetComp), set),
    ((ast.Tuple,), tuple), ((ast.JoinedStr,), str), ((ast.Compare,), bool),
]
_COMPARE: dict[type, Any] = {
    ast.Is: operator.is_, ast.IsNot: operator.is_not, ast.Eq: operator.eq, ast.NotEq: operator.ne,
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


def status_of(exc: type) -> int | None:
    """The status the error middleware answers for an exception class; None: it becomes a 500."""
    if issubclass(exc, DomainError):
        return exc.status
    if issubclass(exc, web.HTTPException) and exc.status_code >= 100:
        return exc.status_code
    return None


class Site(typing.NamedTuple):
    """Where an error is raised ("pufferd.messages:312") and its detail text, when it is text."""

    where: str
    text: str | None


@dataclass
class Effects:
    """What running a function can lead to: errors with the places that raise them, and the
    statuses of the responses it builds."""

    errors: dict[type, set[Site]] = field(default_factory=dict)
    responses: set[int] = field(default_factory=set)

    def update(self, other: Effects) -> None:
        for exc, sites in other.errors.items():
            self.errors.setdefault(exc, set()).update(sites)
        self.responses |= other.responses


@dataclass(frozen=True)
class Answers:
    """The statuses one route can answer: successes, and per error status where it is raised."""

    success: frozenset[int]
    errors: dict[int, frozenset[Site]]

    @property
    def statuses(self) -> frozenset[int]:
        return self.success | frozenset(self.errors)

    def texts(self, status: int) -> list[str]:
        """The distinct detail texts of STATUS, sorted."""
        return sorted({s.text for s in self.errors.get(status, ()) if s.text})


def answers(route: Route) -> Answers:
    """The statuses ROUTE can answer (memoised)."""
    with _LOCK:  # /openapi.json is built in a thread; two apps of one process may build at once
        return _analyser().answers(route)


def unresolved() -> list[str]:
    """Raises and response statuses met so far whose value the analysis could not tell."""
    with _LOCK:
        return sorted(set(_analyser().unresolved))


_LOCK = threading.Lock()


@functools.cache
def _analyser() -> Analyser:
    """The one reading of pufferd's code per process: the code does not change while it runs."""
    return Analyser()


# abstract values: what an expression may evaluate to --------------------------------------------

class _Val:
    """A known object: a module, class, function, or a value fixed at declaration."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Val) and other.obj is self.obj

    def __hash__(self) -> int:
        return id(self.obj)


class _Inst:
    """An instance of a type (a class or a generic alias such as list[Message])."""

    __slots__ = ("tp",)

    def __init__(self, tp: Any) -> None:
        self.tp = tp

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Inst) and other.tp == self.tp

    def __hash__(self) -> int:
        return hash(self.tp)

    @property
    def cls(self) -> type | None:
        origin = typing.get_origin(self.tp) or self.tp
        return origin if isinstance(origin, type) else None


# None: unknown (anything); an empty set: nothing worth following (None itself)
Abstract = frozenset[_Val | _Inst] | None
_UNKNOWN: Abstract = None


def _union(values: list[Abstract]) -> Abstract:
    out: set[_Val | _Inst] = set()
    for v in values:
        if v is None:
            return None
        out |= v
    return frozenset(out)


def _from_hint(tp: Any) -> Abstract:
    if tp is None or tp is type(None):
        return frozenset()
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union([_from_hint(a) for a in typing.get_args(tp)])
    if isinstance(tp, type) or isinstance(origin, type):
        return frozenset({_Inst(tp)})
    return _UNKNOWN


def _element_hint(tp: Any, index: int | None) -> Any:
    """The type of item INDEX (None: of any item) of a value of type TP, None if unknown."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if not isinstance(origin, type) or not args:
        return None
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        return args[index] if index is not None and index < len(args) else None
    if index is None and issubclass(origin, _ITERABLES):
        return args[0]
    return None


def _function(obj: Any) -> types.FunctionType | None:
    """The plain function behind OBJ (a bound method, a static/class method, a wrapper), if any."""
    for _ in range(5):
        if isinstance(obj, types.FunctionType):
            return obj
        if isinstance(obj, (types.MethodType, staticmethod, classmethod)):
            obj = obj.__func__
        elif hasattr(obj, "__wrapped__"):
            obj = obj.__wrapped__
        else:
            return None
    return None


def _home(fn: types.FunctionType) -> str:
    """The module FN was written in (functools.wraps copies __module__, not __globals__)."""
    return str(fn.__globals__.get("__name__", ""))


class _Library:
    """A value read from a library object (request.headers): calling its methods leads into
    the library, not into pufferd; what they return is unknown."""


_LIBRARY: Abstract = frozenset({_Inst(_Library)})


class _Unknown(Exception):
    """A value that is not fixed when the route is declared."""


# the analysis --------------------------------------------------------------------------------

class Analyser:
    """Reads the functions of PACKAGES (others are libraries: followed no further)."""

    def __init__(self, packages: tuple[str, ...] = (_PACKAGE,)) -> None:
        self.packages = packages
        self._done: dict[Any, Effects] = {}
        self._stack: list[Any] = []
        self._provisional: list[bool] = []
        self._trees: dict[str, dict[int, ast.AST]] = {}
        self._declared: dict[tuple[str, str], Abstract] = {}
        self._implementers: dict[type, list[type]] = {}
        # per function: the names it binds and how (see _Scope._bind_all), read once
        self.scopes: dict[tuple[int, types.CodeType], tuple[dict[str, list[tuple[str, Any]]], set[str]]] = {}
        self._classes: list[type] | None = None
        self._methods: dict[str, list[types.FunctionType]] | None = None
        self._routes: dict[Any, Answers] = {}
        self._attrs: dict[tuple[type, str], Abstract] = {}
        self._visible: dict[str, set[str]] = {}
        self._assigns: dict[type, dict[str, list[tuple[_Scope, ast.Assign | ast.AnnAssign]]]] = {}
        self._evaluated: dict[int, Abstract] = {}  # annotation node id -> its type (trees are kept)
        self.unresolved: list[str] = []

    def is_our_module(self, name: str) -> bool:
        return any(name == p or name.startswith(p + ".") for p in self.packages)

    def is_ours(self, obj: Any) -> bool:
        return self.is_our_module(getattr(obj, "__module__", None) or "")

    def source_of(self, fn: types.FunctionType) -> bool:
        """Whether FN was written in a source file of ours (not generated, e.g. by dataclasses)."""
        return self.is_our_module(_home(fn)) and not fn.__code__.co_filename.startswith("<")

    def answers(self, route: Route) -> Answers:
        key = route.view
        if key not in self._routes:
            view = _function(route.view)
            eff = self.effects(view) if view is not None else Effects()
            success = set(eff.responses) | {route.status}
            errors: dict[int, set[Site]] = {}
            for exc, sites in eff.errors.items():
                status = status_of(exc)
                if status is None:
                    continue
                if status < 400:
                    success.add(status)
                else:
                    errors.setdefault(status, set()).update(sites)
            self._routes[key] = Answers(frozenset(success), {s: frozenset(t) for s, t in errors.items()})
        return self._routes[key]

    def effects(self, fn: types.FunctionType) -> Effects:
        """What calling FN can lead to (memoised; a function in a cycle is read again later)."""
        if fn in self._done:
            return self._done[fn]
        if fn in self._stack:  # recursion: what is above it on the stack is not complete yet
            depth = self._stack.index(fn)
            for i in range(depth + 1, len(self._provisional)):
                self._provisional[i] = True
            return Effects()
        node = self._node(fn)
        if node is None:
            return Effects()
        self._stack.append(fn)
        self._provisional.append(False)
        try:
            eff = _Scope(self, fn, node).run()
        finally:
            self._stack.pop()
            provisional = self._provisional.pop()
        if not provisional:
            self._done[fn] = eff
        return eff

    def _node(self, fn: types.FunctionType) -> ast.AST | None:
        if not self.source_of(fn):
            return None
        module = sys.modules.get(_home(fn))
        if module is None:
            return None
        index = self._trees.get(module.__name__)
        if index is None:
            index = self._trees[module.__name__] = {}
            try:
                tree = ast.parse(inspect.getsource(module))
            except (OSError, TypeError):  # e.g. a frozen build that left the sources out
                self.unresolved.append(f"{module.__name__}: no source to read")
                return None
            for stmt in _statements(tree.body):
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    index[stmt.lineno] = stmt
                    if stmt.decorator_list:
                        index[stmt.decorator_list[0].lineno] = stmt
        found = index.get(fn.__code__.co_firstlineno)
        if not isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) or found.name != fn.__code__.co_name:
            # the file on disk is not the code that runs (edited since it was imported)
            self.unresolved.append(f"{module.__name__}: {fn.__code__.co_qualname} not found in the source")
            return None
        return found

    def returns(self, fn: types.FunctionType) -> Abstract:
        """What calling FN returns, by its return annotation (read from the source: no eval)."""
        if not self.source_of(fn):
            return _LIBRARY
        node = self._node(fn)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.returns is None:
            return _UNKNOWN
        return self.evaluate_hint(node.returns, fn.__globals__)

    def field_type(self, cls: type, attr: str) -> Abstract | None:
        """The declared type of attribute ATTR of CLS (`limiter: Limiter`), None if undeclared."""
        for klass in cls.__mro__:
            declared = vars(klass).get("__annotations__", {}).get(attr)
            if declared is None:
                continue
            if not isinstance(declared, str):
                return _from_hint(declared)
            module = sys.modules.get(klass.__module__)
            key = (declared, klass.__module__)
            if key not in self._declared:
                try:
                    node = ast.parse(declared, mode="eval").body
                    self._declared[key] = _from_hint(_annotation(node, vars(module) if module else {}))
                except Exception:
                    self._declared[key] = _UNKNOWN
            return self._declared[key]
        return None

    def classes(self) -> list[type]:
        """Every class defined in a loaded pufferd module."""
        if self._classes is None:
            found: dict[int, type] = {}
            for name, module in list(sys.modules.items()):
                if module is None or not self.is_our_module(name):
                    continue
                for value in list(vars(module).values()):
                    if isinstance(value, type) and value.__module__ == name and name != __name__:
                        found[id(value)] = value
            self._classes = list(found.values())
        return self._classes

    def methods_named(self, name: str, caller: str) -> list[types.FunctionType]:
        """The methods NAME of the pufferd classes module CALLER can see (those of the modules it
        imports, transitively): the candidates for a call on an object of unknown type. Imports
        point down (STYLE.md), so domain code never holds, say, a web.route.Router."""
        if self._methods is None:
            self._methods = {}
            for cls in self.classes():
                for attr, value in vars(cls).items():
                    fn = _function(value)
                    if fn is not None and self.source_of(fn):
                        self._methods.setdefault(attr, []).append(fn)
        visible = self.visible(caller)
        return [fn for fn in self._methods.get(name, []) if _home(fn) in visible]

    def visible(self, module_name: str) -> set[str]:
        """The pufferd modules MODULE_NAME imports, transitively, itself included."""
        if module_name not in self._visible:
            seen: set[str] = set()
            todo = [module_name]
            while todo:
                name = todo.pop()
                module = sys.modules.get(name)
                if name in seen or module is None:
                    continue
                seen.add(name)
                for value in list(vars(module).values()):
                    other = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
                    if isinstance(value, types.ModuleType) and value.__name__.startswith(name + "."):
                        continue  # a package's submodule: set by the import system, not imported by the package
                    if isinstance(other, str) and self.is_our_module(other) and other not in seen:
                        todo.append(other)
            self._visible[module_name] = seen
        return self._visible[module_name]

    def implementers(self, cls: type) -> list[type]:
        """CLS, and the pufferd classes that may stand where CLS is declared (subclasses, and
        for a Protocol every class with its methods)."""
        if cls not in self._implementers:
            if getattr(cls, "_is_protocol", False):
                members = [n for n, v in vars(cls).items() if callable(v) and not n.startswith("_")]
                found = [c for c in self.classes()
                         if c is not cls and all(callable(getattr(c, m, None)) for m in members)]
            elif not self.is_ours(cls):
                found = [cls]
            else:
                found = [c for c in self.classes() if issubclass(c, cls)] or [cls]
            self._implementers[cls] = found
        return self._implementers[cls]

    def attribute(self, tp: Any, attr: str) -> Abstract:
        """ATTR of an instance of TP."""
        cls = typing.get_origin(tp) or tp
        if not isinstance(cls, type):
            return _UNKNOWN
        out: list[Abstract] = []
        for c in self.implementers(cls):
            if c is _Library or not self.is_ours(c):
                # a library's attribute: its methods are the library's, not ours to follow
                out.append(_LIBRARY)
                continue
            value = inspect.getattr_static(c, attr, None)
            declared = self.field_type(c, attr)
            if isinstance(value, property):
                fget = _function(value.fget)
                out.append(self.returns(fget) if fget else _UNKNOWN)
            elif _function(value) is not None:
                out.append(frozenset({_Val(_function(value))}))
            elif declared is not None:
                out.append(declared)
            else:
                out.append(self._instance_attribute(c, attr))
        return _union(out)

    def _instance_attribute(self, cls: type, attr: str) -> Abstract:
        """ATTR of a CLS instance from the `self.ATTR = value` assignments in CLS's methods."""
        key = (cls, attr)
        if key in self._attrs:
            return self._attrs[key]
        self._attrs[key] = _UNKNOWN  # while reading: an attribute defined from itself is unknown
        values: list[Abstract] = []
        for klass in cls.__mro__:
            for scope, sub in self._self_assignments(klass).get(attr, ()):
                if isinstance(sub, ast.AnnAssign):
                    values.append(scope._binding("hint", sub.annotation))
                elif sub.value is not None:
                    values.append(scope.value(sub.value))
        self._attrs[key] = _union(values) if values else _UNKNOWN
        return self._attrs[key]

    def _self_assignments(self, cls: type) -> dict[str, list[tuple[_Scope, ast.Assign | ast.AnnAssign]]]:
        """`self.x = ...` in the methods of CLS, by attribute name (nothing for a library class)."""
        if cls not in self._assigns:
            found: dict[str, list[tuple[_Scope, ast.Assign | ast.AnnAssign]]] = {}
            for member in vars(cls).values() if self.is_ours(cls) else ():
                fn = _function(member)
                node = self._node(fn) if fn is not None else None
                if fn is None or node is None:
                    continue
                scope: _Scope | None = None
                for sub in ast.walk(node):
                    if isinstance(sub, (ast.Assign, ast.AnnAssign)):
                        for t in sub.targets if isinstance(sub, ast.Assign) else [sub.target]:
                            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                                scope = scope or _Scope(self, fn, node)
                                found.setdefault(t.attr, []).append((scope, sub))
            self._assigns[cls] = found
        return self._assigns[cls]

    def evaluate_hint(self, node: ast.expr, space: dict[str, Any]) -> Abstract:
        """The type an annotation names, in module namespace SPACE (memoised per node)."""
        key = id(node)
        if key not in self._evaluated:
            try:
                self._evaluated[key] = _from_hint(_annotation(node, space))
            except Exception:
                self._evaluated[key] = _UNKNOWN
        return self._evaluated[key]


class _Scope:
    """The reading of one function (with the functions nested in it)."""

    def __init__(self, analyser: Analyser, fn: types.FunctionType, node: ast.AST) -> None:
        assert isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        self.an = analyser
        self.fn = fn
        self.node = node
        self.globals = fn.__globals__
        self.where = f"{fn.__code__.co_filename}"
        cells = fn.__closure__ or ()
        self.closure = {name: cell.cell_contents for name, cell in zip(fn.__code__.co_freevars, cells, strict=True)}
        self.loop: dict[str, Any] = {}  # names bound by an unrolled `for`
        self.bindings: dict[str, list[tuple[str, Any]]] = {}
        self.handler_names: set[str] = set()
        self._evaluating: set[str] = set()
        key = (id(node), fn.__code__)
        if key not in analyser.scopes:
            self._bind_all()
            analyser.scopes[key] = (self.bindings, self.handler_names)
        self.bindings, self.handler_names = analyser.scopes[key]

    # names --------------------------------------------------------------------------------
    def _bind(self, name: str, how: str, what: Any) -> None:
        self.bindings.setdefault(name, []).append((how, what))

    def _bind_target(self, target: ast.AST, how: str, what: Any) -> None:
        if isinstance(target, ast.Name):
            self._bind(target.id, how, what)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for i, elt in enumerate(target.elts):
                if isinstance(elt, ast.Name):
                    self._bind(elt.id, "item" if how == "expr" else "unknown", (what, i))
                else:
                    self._bind_target(elt, "unknown", None)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, "unknown", None)

    def _bind_all(self) -> None:
        owner = self._owner()
        for node in ast.walk(self.node):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = node.args
                params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
                for i, a in enumerate(params):
                    if node is self.node and i == 0 and owner is not None and a.arg in ("self", "cls"):
                        self._bind(a.arg, "value", frozenset({_Inst(owner) if a.arg == "self" else _Val(owner)}))
                    elif a.annotation is not None:
                        self._bind(a.arg, "hint", a.annotation)
                    else:
                        self._bind(a.arg, "unknown", None)
                for rest in (args.vararg, args.kwarg):
                    if rest is not None:
                        self._bind(rest.arg, "unknown", None)
                if node is not self.node and not isinstance(node, ast.Lambda):
                    self._bind(node.name, "unknown", None)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    self._bind_target(t, "expr", node.value)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                self._bind(node.target.id, "hint", node.annotation)
            elif isinstance(node, (ast.AugAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name):
                self._bind(node.target.id, "expr" if isinstance(node, ast.NamedExpr) else "unknown", node.value)
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                if isinstance(node.target, ast.Name):
                    self._bind(node.target.id, "iter", node.iter)
                else:
                    self._bind_target(node.target, "unknown", None)
            elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                self._bind_target(node.optional_vars, "unknown", None)
            elif isinstance(node, ast.ExceptHandler) and node.name:
                self.handler_names.add(node.name)
                self._bind(node.name, "unknown", None)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    self._bind(*_imported(node, alias))
            elif isinstance(node, ast.ClassDef):
                self._bind(node.name, "unknown", None)

    def _owner(self) -> type | None:
        parts = self.fn.__code__.co_qualname.split(".")
        if len(parts) < 2 or "<locals>" in parts:
            return None
        obj: Any = sys.modules.get(_home(self.fn))
        for part in parts[:-1]:
            obj = getattr(obj, part, None)
        return obj if isinstance(obj, type) else None

    # values -------------------------------------------------------------------------------
    def value(self, e: ast.AST) -> Abstract:
        """What expression E may evaluate to."""
        if isinstance(e, ast.Name):
            return self._name(e.id)
        if isinstance(e, ast.Attribute):
            return self._attribute(e)
        if isinstance(e, ast.Call):
            return self._result(e)
        if isinstance(e, ast.Await):
            return self.value(e.value)
        if isinstance(e, ast.NamedExpr):
            return self.value(e.value)
        if isinstance(e, ast.IfExp):
            return _union([self.value(e.body), self.value(e.orelse)])
        if isinstance(e, ast.BoolOp):
            return _union([self.value(v) for v in e.values])
        if isinstance(e, ast.Subscript):
            return self._subscript(e)
        if isinstance(e, ast.Constant):
            return frozenset({_Inst(type(e.value))}) if e.value is not None else frozenset()
        for node_types, tp in _DISPLAYS:
            if isinstance(e, node_types):
                return frozenset({_Inst(tp)})
        return _UNKNOWN

    def _name(self, name: str) -> Abstract:
        if name in self.loop:
            return frozenset({_Val(self.loop[name])})
        if name in self.bindings:
            if name in self._evaluating:
                return _UNKNOWN
            self._evaluating.add(name)
            try:
                return _union([self._binding(how, what) for how, what in self.bindings[name]])
            finally:
                self._evaluating.discard(name)
        for space in (self.closure, self.globals, vars(builtins)):
            if name in space:
                return frozenset({_Val(space[name])})
        return _UNKNOWN

    def _binding(self, how: str, what: Any) -> Abstract:
        if how == "value":
            return typing.cast(Abstract, what)
        if how == "expr":
            return self.value(what)
        if how == "hint":
            return self.an.evaluate_hint(what, self.globals)
        if how == "item":
            expr, index = what
            if isinstance(expr, (ast.Tuple, ast.List)) and index < len(expr.elts):
                return self.value(expr.elts[index])
            return self._items(self.value(expr), index)
        if how == "iter":
            return self._items(self.value(what), None)
        return _UNKNOWN

    def _items(self, container: Abstract, index: int | None) -> Abstract:
        if container is None:
            return _UNKNOWN
        out: list[Abstract] = []
        for v in container:
            hint = _element_hint(v.tp, index) if isinstance(v, _Inst) else None
            out.append(_from_hint(hint) if hint is not None else _UNKNOWN)
        return _union(out)

    def _attribute(self, e: ast.Attribute) -> Abstract:
        base = self.value(e.value)
        if base is None:
            return _UNKNOWN
        out: list[Abstract] = []
        for v in base:
            if isinstance(v, _Inst):
                out.append(self.an.attribute(v.tp, e.attr))
                continue
            obj = v.obj
            if isinstance(obj, type):
                static = inspect.getattr_static(obj, e.attr, None)
                if isinstance(static, property):
                    out.append(_UNKNOWN)
                    continue
                fn = _function(static)
                if fn is not None:
                    out.append(frozenset({_Val(fn)}))
                    continue
            try:
                out.append(frozenset({_Val(getattr(obj, e.attr))}))
            except Exception:
                out.append(_UNKNOWN)
        return _union(out)

    def _subscript(self, e: ast.Subscript) -> Abstract:
        key = self.value(e.slice)
        if key and all(isinstance(k, _Val) and isinstance(k.obj, (web.AppKey, web.RequestKey)) for k in key):
            return _union([_from_hint(getattr(typing.cast(_Val, k).obj, "_t", None)) or _UNKNOWN for k in key])
        index = e.slice.value if isinstance(e.slice, ast.Constant) and isinstance(e.slice.value, int) else None
        return self._items(self.value(e.value), index) if index is not None else _UNKNOWN

    def _result(self, e: ast.Call) -> Abstract:
        callees = self.value(e.func)
        if callees is None:
            return _UNKNOWN
        out: list[Abstract] = []
        for c in callees:
            if isinstance(c, _Val) and isinstance(c.obj, type):
                out.append(frozenset({_Inst(c.obj)}))
            elif isinstance(c, _Val) and _function(c.obj) is not None:
                out.append(self.an.returns(typing.cast(types.FunctionType, _function(c.obj))))
            elif isinstance(c, _Val) and callable(c.obj) and not self.an.is_ours(c.obj):
                out.append(_LIBRARY)  # a builtin or a library's callable object
            else:
                out.append(_UNKNOWN)
        return _union(out)

    # values fixed at declaration ----------------------------------------------------------
    def fixed(self, e: ast.AST) -> Any:
        """The value of E when it only depends on the closure, loop bindings and globals."""
        if isinstance(e, ast.Constant):
            return e.value
        if isinstance(e, ast.Name):
            if e.id in self.loop:
                return self.loop[e.id]
            if e.id in self.bindings:
                raise _Unknown
            for space in (self.closure, self.globals, vars(builtins)):
                if e.id in space:
                    return space[e.id]
            raise _Unknown
        if isinstance(e, ast.Attribute):
            base = self.fixed(e.value)
            try:
                return getattr(base, e.attr)
            except Exception:
                raise _Unknown from None
        if isinstance(e, ast.Compare):
            left = self.fixed(e.left)
            for op, right_e in zip(e.ops, e.comparators, strict=True):
                right = self.fixed(right_e)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(e, ast.BoolOp):
            values = [self.fixed(v) for v in e.values]
            return all(values) if isinstance(e.op, ast.And) else any(values)
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            return not self.fixed(e.operand)
        if isinstance(e, ast.Tuple):
            return tuple(self.fixed(x) for x in e.elts)
        if (isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and not e.args and not e.keywords
                and e.func.attr in ("items", "keys", "values")):
            base = self.fixed(e.func.value)
            if isinstance(base, dict):
                return list(getattr(base, e.func.attr)())
        raise _Unknown

    def _truth(self, e: ast.AST) -> bool | None:
        try:
            return bool(self.fixed(e))
        except _Unknown:
            return None

    @contextmanager
    def _looping(self, names: dict[str, Any]) -> Iterator[None]:
        saved = dict(self.loop)
        self.loop.update(names)
        try:
            yield
        finally:
            self.loop = saved

    def _unpack(self, target: ast.AST, item: Any) -> dict[str, Any] | None:
        if isinstance(target, ast.Name):
            return {target.id: item}
        if isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts):
            try:
                items = tuple(item)
            except TypeError:
                return None
            if len(items) == len(target.elts):
                return {typing.cast(ast.Name, t).id: v for t, v in zip(target.elts, items, strict=True)}
        return None

    # effects --------------------------------------------------------------------------------
    def run(self) -> Effects:
        assert isinstance(self.node, (ast.FunctionDef, ast.AsyncFunctionDef))
        return self.block(self.node.body)

    def block(self, stmts: list[ast.stmt]) -> Effects:
        eff = Effects()
        for s in stmts:
            eff.update(self.stmt(s))
            if self._ends(s):  # what follows never runs (e.g. after `if r.status == 204: return`)
                break
        return eff

    def _ends(self, s: ast.stmt) -> bool:
        if isinstance(s, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
            return True
        if isinstance(s, ast.If):
            taken = self._truth(s.test)
            body_ends = any(self._ends(x) for x in s.body)
            else_ends = any(self._ends(x) for x in s.orelse)
            return body_ends if taken is True else else_ends if taken is False else body_ends and else_ends
        return False

    def stmt(self, s: ast.stmt) -> Effects:
        if isinstance(s, ast.If):
            eff = self.exprs(s.test)
            taken = self._truth(s.test)
            if taken is not False:
                eff.update(self.block(s.body))
            if taken is not True:
                eff.update(self.block(s.orelse))
            return eff
        if isinstance(s, (ast.For, ast.AsyncFor)):
            return self._for(s)
        if isinstance(s, (ast.Try, ast.TryStar)):
            return self._try(s)
        if isinstance(s, ast.Raise):
            return self._raise(s)
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # read where it is defined, as if called there (decorators and defaults run here too)
            eff = self.exprs(*s.decorator_list, *s.args.defaults, *[d for d in s.args.kw_defaults if d])
            eff.update(self.block(s.body))
            return eff
        return self._generic(s)

    def _generic(self, node: ast.AST) -> Effects:
        eff = Effects()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                eff.update(self.stmt(child))
            elif isinstance(child, ast.expr):
                eff.update(self.exprs(child))
            else:
                eff.update(self._generic(child))
        return eff

    def _for(self, s: ast.For | ast.AsyncFor) -> Effects:
        eff = self.exprs(s.iter)
        try:
            items = list(self.fixed(s.iter))
        except (_Unknown, TypeError):
            items = None
        bound = [self._unpack(s.target, item) for item in items] if items is not None else None
        if bound is None or any(b is None for b in bound):
            eff.update(self.block(s.body))
        else:
            for names in bound:
                with self._looping(typing.cast(dict[str, Any], names)):
                    eff.update(self.block(s.body))
        eff.update(self.block(s.orelse))
        return eff

    def _try(self, s: ast.Try | ast.TryStar) -> Effects:
        body = self.block(s.body)
        out = Effects(responses=set(body.responses))
        left = dict(body.errors)
        for h in s.handlers:
            out.update(self.block(h.body))
            caught = self._caught(h.type)
            keep = _reraises(h)
            for exc in [x for x in left if any(issubclass(x, c) for c in caught)]:
                sites = left.pop(exc)
                if keep:
                    out.errors.setdefault(exc, set()).update(sites)
        out.update(Effects(errors=left))
        out.update(self.block(s.orelse))
        out.update(self.block(s.finalbody))
        return out

    def _caught(self, e: ast.expr | None) -> tuple[type, ...]:
        """The classes a handler catches; one it cannot resolve is taken as catching nothing."""
        if e is None:
            return (BaseException,)
        found = []
        for x in e.elts if isinstance(e, ast.Tuple) else [e]:
            for v in self.value(x) or ():
                if isinstance(v, _Val) and isinstance(v.obj, type) and issubclass(v.obj, BaseException):
                    found.append(v.obj)
        return tuple(found)

    def _raise(self, s: ast.Raise) -> Effects:
        eff = Effects()
        if s.exc is None:
            return eff  # a re-raise: _try keeps what the handler caught
        eff.update(self.exprs(s.exc))
        if s.cause is not None:
            eff.update(self.exprs(s.cause))
        if isinstance(s.exc, ast.Name) and s.exc.id in self.handler_names:
            return eff
        values = self.value(s.exc)
        classes = []
        for v in values or ():
            cls = v.obj if isinstance(v, _Val) else v.cls
            if isinstance(cls, type) and issubclass(cls, BaseException):
                classes.append(cls)
        if not values or len(classes) != len(values):
            self.an.unresolved.append(f"{self.where}:{s.lineno}: raise {ast.unparse(s.exc)}")
        site = Site(f"{_home(self.fn)}:{s.lineno}", self._detail(s.exc))
        for cls in classes:
            if status_of(cls) is not None:
                eff.errors.setdefault(cls, set()).add(site)
        return eff

    def _detail(self, e: ast.expr) -> str | None:
        """The detail text of `raise Error("...")`, when the first argument is text."""
        if not isinstance(e, ast.Call) or not e.args:
            return None
        callees = self.value(e.func) or ()
        if not all(isinstance(c, _Val) and isinstance(c.obj, type) for c in callees):
            return None
        arg = e.args[0]
        if isinstance(arg, ast.JoinedStr):
            return "".join(str(p.value) if isinstance(p, ast.Constant) else "…" for p in arg.values)
        try:
            value = self.fixed(arg)
        except _Unknown:
            return None
        return value if isinstance(value, str) else None

    def exprs(self, *nodes: ast.AST) -> Effects:
        """The effects of the calls in NODES (lambdas included: read as if called)."""
        eff = Effects()
        for node in nodes:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    eff.update(self._call(sub))
        return eff

    def _call(self, e: ast.Call) -> Effects:
        eff = Effects()
        callees = self.value(e.func)
        if callees is None:
            if isinstance(e.func, ast.Attribute) and not e.func.attr.startswith("__"):
                for fn in self.an.methods_named(e.func.attr, _home(self.fn)):
                    eff.update(self.an.effects(fn))
        else:
            for c in callees:
                if isinstance(c, _Val):
                    eff.update(self._call_of(c.obj, e))
        if isinstance(e.func, ast.Attribute) and e.func.attr in _BODY_READERS:
            receiver = self.value(e.func.value) or ()
            if any(isinstance(v, _Inst) and v.cls and issubclass(v.cls, web.BaseRequest) for v in receiver):
                eff.errors.setdefault(web.HTTPRequestEntityTooLarge, set()).add(
                    Site(f"{_home(self.fn)}:{e.lineno}", "Request body too large"))
        for arg in [*e.args, *(k.value for k in e.keywords)]:
            if isinstance(arg, ast.Starred):
                arg = arg.value
            if isinstance(arg, (ast.Name, ast.Attribute)):  # a function handed over is called later
                for v in self.value(arg) or ():
                    handed = _function(v.obj) if isinstance(v, _Val) else None
                    if handed is not None and self.an.source_of(handed):
                        eff.update(self.an.effects(handed))
        return eff

    def _call_of(self, obj: Any, e: ast.Call) -> Effects:
        eff = Effects()
        if isinstance(obj, type):
            if issubclass(obj, web.HTTPException):
                pass  # a response too in aiohttp 3, but it answers only when raised (see _raise)
            elif issubclass(obj, web.StreamResponse):
                eff.responses |= self._response_statuses(obj, e)
            elif self.an.is_ours(obj):
                for name in ("__init__", "__post_init__"):
                    fn = _function(inspect.getattr_static(obj, name, None))
                    if fn is not None and self.an.source_of(fn):
                        eff.update(self.an.effects(fn))
            return eff
        if obj is web.json_response:
            eff.responses |= self._response_statuses(web.Response, e)
            return eff
        fn = _function(obj)
        if fn is not None and self.an.source_of(fn):
            eff.update(self.an.effects(fn))
        return eff

    def _response_statuses(self, cls: type, e: ast.Call) -> set[int]:
        if issubclass(cls, web.WebSocketResponse):
            return {101}
        if issubclass(cls, web.FileResponse):
            return set(_FILE_STATUSES)
        arg = next((k.value for k in e.keywords if k.arg == "status"), None)
        if arg is None and cls is web.StreamResponse and e.args:
            arg = e.args[0]
        if arg is None:
            return {200}
        try:
            return {int(self.fixed(arg))}
        except (_Unknown, TypeError, ValueError):
            pass
        found = {n.value for n in ast.walk(arg) if isinstance(n, ast.Constant) and isinstance(n.value, int)}
        if not isinstance(arg, (ast.IfExp, ast.Constant)) or not found:
            self.an.unresolved.append(f"{self.where}:{e.lineno}: status={ast.unparse(arg)}")
        return found


def _imported(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> tuple[str, str, Any]:
    """The binding of a name imported inside a function: a pufferd module or what it defines is
    known (modules import their heavy or circular neighbours on first use, issue 17), anything
    else is not followed."""
    name = alias.asname or alias.name.partition(".")[0]
    if isinstance(node, ast.ImportFrom):
        module = node.module if node.level == 0 else None
        if module is None or not (module == _PACKAGE or module.startswith(_PACKAGE + ".")):
            return name, "unknown", None
        parent = importlib.import_module(module)
        obj = getattr(parent, alias.name, None)
        if obj is None:
            obj = importlib.import_module(f"{module}.{alias.name}")
        return name, "value", frozenset({_Val(obj)})
    target = alias.name if alias.asname else alias.name.partition(".")[0]
    if target != _PACKAGE and not target.startswith(_PACKAGE + "."):
        return name, "unknown", None
    return name, "value", frozenset({_Val(importlib.import_module(target))})


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement in BODY and in the blocks nested in it (expressions are not entered)."""
    todo = list(body)
    while todo:
        node = todo.pop()
        yield node
        for name in ("body", "orelse", "finalbody", "handlers", "cases"):
            for child in getattr(node, name, ()):
                todo.extend(child.body if isinstance(child, (ast.ExceptHandler, ast.match_case)) else [child])


def _annotation(node: ast.expr, space: dict[str, Any]) -> Any:
    """The object an annotation names: `User | None`, `list[Message]`, `apsw.Connection`."""
    if isinstance(node, ast.Name):
        return space[node.id] if node.id in space else getattr(builtins, node.id)
    if isinstance(node, ast.Attribute):
        return getattr(_annotation(node.value, space), node.attr)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _annotation(node.left, space) | _annotation(node.right, space)
    if isinstance(node, ast.Subscript):
        index = node.slice
        args = tuple(_annotation(x, space) for x in index.elts) if isinstance(index, ast.Tuple) else \
            _annotation(index, space)
        return _annotation(node.value, space)[args]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _annotation(ast.parse(node.value, mode="eval").body, space)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List):  # Callable[[A, B], R]
        return [_annotation(x, space) for x in node.elts]
    raise TypeError(f"annotation not understood: {ast.unparse(node)}")


def _reraises(h: ast.ExceptHandler) -> bool:
    """Whether the handler raises what it caught again (`raise`, or `raise exc` of `as exc`)."""
    todo: list[ast.AST] = list(h.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Raise) and (
                node.exc is None or (isinstance(node.exc, ast.Name) and node.exc.id == h.name)):
            return True
        todo.extend(ast.iter_child_nodes(node))
    return False
