"""A small evaluator of expr-lang (v1.17.8, the version Kargo v1.11.0 uses) for the simulated Kargo.

It knows the part of the language the install's Stages use and a little around it — `let`, ternaries, `??`,
`&&`/`||`/`and`/`or`, `not`/`!`, comparisons, `in`/`not in`, arithmetic, member, index and method access, array
and map literals — with expr-lang's precedences (parser/operator/operator.go), and the builtins `now`, `duration`,
`date`, `int`, `string`, `len`, `lower`, `upper`, plus what the caller adds (Kargo's `configMap`, `imageFrom`,
`quote`). Go's time values keep Go's methods (`UTC`, `Add`, `Format` with Go layouts, `Unix`). Anything else is an
error naming it, as an unknown function is in Kargo: the simulation never guesses. `tests/real` holds it to the
real expr-lang on the install's own expressions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


class ExprError(Exception):
    pass


@dataclass(frozen=True)
class Duration:
    nanos: int


_DURATION_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9,
                   "h": 3600 * 10**9}


def parse_duration(text: str) -> Duration:
    """Go's time.ParseDuration for integer amounts ("-4h", "1h30m")."""
    m = re.fullmatch(r"([+-]?)((?:\d+(?:ns|us|µs|ms|s|m|h))+)", text)
    if not m:
        raise ExprError(f'time: invalid duration "{text}"')
    total = sum(int(n) * _DURATION_UNITS[u] for n, u in re.findall(r"(\d+)(ns|us|µs|ms|s|m|h)", m.group(2)))
    return Duration(-total if m.group(1) == "-" else total)


_LAYOUT = re.compile(r"Monday|Mon|January|Jan|2006|01|02|15|03|04|05|PM|Z07:00|MST|06|1|2|3")
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


@dataclass(frozen=True)
class GoTime:
    """A Go time.Time: an instant and the zone it is shown in (UTC or the controller's Local, UTC here)."""

    at: datetime  # aware

    def UTC(self) -> GoTime:
        return GoTime(self.at.astimezone(UTC))

    def Add(self, d: Duration) -> GoTime:
        return GoTime(self.at + timedelta(microseconds=d.nanos // 1000))

    def Unix(self) -> int:
        return int(self.at.timestamp())

    def Format(self, layout: str) -> str:
        t = self.at

        def one(m: re.Match[str]) -> str:
            tok = m.group(0)
            return {"Monday": _DAYS[t.weekday()], "Mon": _DAYS[t.weekday()][:3], "January": _MONTHS[t.month - 1],
                    "Jan": _MONTHS[t.month - 1][:3], "2006": f"{t.year:04d}", "06": f"{t.year % 100:02d}",
                    "01": f"{t.month:02d}", "02": f"{t.day:02d}", "15": f"{t.hour:02d}",
                    "03": f"{(t.hour % 12) or 12:02d}", "04": f"{t.minute:02d}", "05": f"{t.second:02d}",
                    "PM": "PM" if t.hour >= 12 else "AM", "MST": t.tzname() or "UTC",
                    "Z07:00": "Z" if not t.utcoffset() else t.strftime("%z")[:3] + ":" + t.strftime("%z")[3:],
                    "1": str(t.month), "2": str(t.day), "3": str((t.hour % 12) or 12)}[tok]
        return _LAYOUT.sub(one, layout)


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>\d+\.\d+|\d+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\?\?|\?\.|&&|\|\||==|!=|<=|>=|[-+*/%<>!?:.,()\[\]{};=])
)""", re.X)
_BINARY = {"or": 10, "||": 10, "and": 15, "&&": 15, "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20,
           "in": 20, "not in": 20, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "??": 500}


def tokenize(source: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos, source = 0, source.rstrip()
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if not m or m.end() == pos:
            raise ExprError(f"unexpected character {source[pos:].strip()[:1]!r} at {pos}")
        pos = m.end()
        if m.group("num"):
            out.append(("num", float(m.group("num")) if "." in m.group("num") else int(m.group("num"))))
        elif m.group("str"):
            out.append(("str", bytes(m.group("str")[1:-1], "utf-8").decode("unicode_escape")))
        elif m.group("name"):
            out.append(("name", m.group("name")))
        else:
            out.append(("op", m.group("op")))
    out.append(("end", None))
    return out


class Parser:
    """expr-lang's grammar, as a tree of tuples: ("lit", v), ("var", n), ("call", f, args), ("member", o, n),
    ("index", o, i), ("method", o, n, args), ("bin", op, a, b), ("un", op, a), ("cond", c, a, b),
    ("let", n, v, body), ("list", items), ("map", pairs)."""

    def __init__(self, source: str) -> None:
        self.toks = tokenize(source)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        return self.toks[self.i + offset]

    def take(self, kind: str | None = None, value: Any = None) -> tuple[str, Any]:
        tok = self.toks[self.i]
        if (kind and tok[0] != kind) or (value is not None and tok[1] != value):
            raise ExprError(f"unexpected token {tok[1]!r} (expected {value or kind})")
        self.i += 1
        return tok

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.toks[self.i]
        return tok[0] == kind and (value is None or tok[1] == value)

    def parse(self) -> tuple:
        node = self.expression()
        if not self.at("end"):
            raise ExprError(f"unexpected token {self.peek()[1]!r}")
        return node

    def expression(self) -> tuple:
        if self.at("name", "let"):
            self.take()
            name = self.take("name")[1]
            self.take("op", "=")
            value = self.expression()
            self.take("op", ";")
            return ("let", name, value, self.expression())
        cond = self.binary(0)
        if self.at("op", "?"):
            self.take()
            yes = self.expression()
            self.take("op", ":")
            return ("cond", cond, yes, self.expression())
        return cond

    def operator(self) -> str | None:
        kind, value = self.peek()
        if kind == "op" and value in _BINARY:
            return value
        if kind == "name" and value in ("and", "or", "in"):
            return value
        if kind == "name" and value == "not" and self.peek(1) == ("name", "in"):
            return "not in"
        return None

    def binary(self, min_prec: int) -> tuple:
        left = self.unary()
        while (op := self.operator()) is not None and _BINARY[op] > min_prec:
            self.i += 2 if op == "not in" else 1
            left = ("bin", op, left, self.binary(_BINARY[op]))
        return left

    def unary(self) -> tuple:
        if self.at("op", "!") or self.at("name", "not"):
            self.take()
            return ("un", "!", self.binary(50))
        if self.at("op", "-") or self.at("op", "+"):
            op = self.take()[1]
            return ("un", op, self.binary(90))
        return self.postfix(self.primary())

    def args(self) -> list[tuple]:
        self.take("op", "(")
        out = []
        while not self.at("op", ")"):
            out.append(self.expression())
            if not self.at("op", ")"):
                self.take("op", ",")
        self.take("op", ")")
        return out

    def primary(self) -> tuple:
        kind, value = self.take()
        if kind in ("num", "str"):
            return ("lit", value)
        if kind == "name":
            if value in ("true", "false"):
                return ("lit", value == "true")
            if value == "nil":
                return ("lit", None)
            if self.at("op", "("):
                return ("call", value, self.args())
            return ("var", value)
        if (kind, value) == ("op", "("):
            node = self.expression()
            self.take("op", ")")
            return node
        if (kind, value) == ("op", "["):
            items = []
            while not self.at("op", "]"):
                items.append(self.expression())
                if not self.at("op", "]"):
                    self.take("op", ",")
            self.take("op", "]")
            return ("list", items)
        if (kind, value) == ("op", "{"):
            pairs = []
            while not self.at("op", "}"):
                key_kind, key = self.take()
                if key_kind not in ("str", "name", "num"):
                    raise ExprError(f"a map key cannot be {key!r}")
                self.take("op", ":")
                pairs.append((key, self.expression()))
                if not self.at("op", "}"):
                    self.take("op", ",")
            self.take("op", "}")
            return ("map", pairs)
        raise ExprError(f"unexpected token {value!r}")

    def postfix(self, node: tuple) -> tuple:
        while True:
            if self.at("op", ".") or self.at("op", "?."):
                self.take()
                name = self.take("name")[1]
                node = ("method", node, name, self.args()) if self.at("op", "(") else ("member", node, name)
            elif self.at("op", "["):
                self.take()
                index = self.expression()
                self.take("op", "]")
                node = ("index", node, index)
            else:
                return node


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        if not re.fullmatch(r"[+-]?\d+", value):
            raise ExprError(f'strconv.Atoi: parsing "{value}": invalid syntax')
        return int(value)
    if _number(value):
        return int(value)
    raise ExprError(f"invalid argument for int (type {type(value).__name__})")


def _compare(op: str, a: Any, b: Any) -> bool:
    if op in ("==", "!="):
        same = a == b if (_number(a) and _number(b)) or type(a) is type(b) else False
        return same if op == "==" else not same
    if not ((_number(a) and _number(b)) or (isinstance(a, str) and isinstance(b, str))):
        raise ExprError(f"invalid operation: {op} (mismatched types {type(a).__name__} and {type(b).__name__})")
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


class Evaluator:
    def __init__(self, now: Callable[[], datetime], functions: dict[str, Callable[..., Any]] | None = None) -> None:
        self.functions: dict[str, Callable[..., Any]] = {
            "now": lambda: GoTime(now().astimezone(UTC)), "duration": parse_duration,
            "date": lambda s: GoTime(datetime.fromisoformat(s.replace("Z", "+00:00"))),
            "int": _to_int, "string": lambda v: v if isinstance(v, str) else str(v), "len": len,
            "lower": lambda s: s.lower(), "upper": lambda s: s.upper(),
            # Kargo's quote(): Go's %q of a string (the template reader then strips the quotes)
            "quote": lambda v: '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' if isinstance(v, str)
            else '"' + str(v) + '"', **(functions or {})}

    def evaluate(self, source: str, env: dict[str, Any] | None = None) -> Any:
        return self.eval(Parser(source).parse(), dict(env or {}))

    def eval(self, node: tuple, env: dict[str, Any]) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "var":
            if node[1] not in env:
                raise ExprError(f"unknown name {node[1]}")
            return env[node[1]]
        if kind == "let":
            return self.eval(node[3], {**env, node[1]: self.eval(node[2], env)})
        if kind == "cond":
            return self.eval(node[2] if self.eval(node[1], env) else node[3], env)
        if kind == "list":
            return [self.eval(n, env) for n in node[1]]
        if kind == "map":
            return {k: self.eval(v, env) for k, v in node[1]}
        if kind == "call":
            fn = self.functions.get(node[1])
            if fn is None:
                raise ExprError(f"unknown func {node[1]}")
            return fn(*(self.eval(a, env) for a in node[2]))
        if kind == "un":
            value = self.eval(node[2], env)
            if node[1] == "!":
                if not isinstance(value, bool):
                    raise ExprError(f"invalid operation: ! ({type(value).__name__})")
                return not value
            if not _number(value):
                raise ExprError(f"invalid operation: {node[1]} ({type(value).__name__})")
            return -value if node[1] == "-" else value
        if kind in ("member", "index"):
            base = self.eval(node[1], env)
            key = node[2] if kind == "member" else self.eval(node[2], env)
            if base is None:
                return None
            if isinstance(base, dict):
                return base.get(key)
            if isinstance(base, list) and isinstance(key, int):
                return base[key] if -len(base) <= key < len(base) else None
            if isinstance(key, str) and key[:1].isupper() and hasattr(base, key):
                return getattr(base, key)
            raise ExprError(f"cannot fetch {key} from {type(base).__name__}")
        if kind == "method":
            base = self.eval(node[1], env)
            method = getattr(base, node[2], None) if node[2][:1].isupper() else None
            if not callable(method):
                raise ExprError(f"type {type(base).__name__} has no method {node[2]}")
            return method(*(self.eval(a, env) for a in node[3]))
        return self.binary(node[1], node[2], node[3], env)

    def binary(self, op: str, left_node: tuple, right_node: tuple, env: dict[str, Any]) -> Any:
        a = self.eval(left_node, env)
        if op == "??":
            return a if a is not None else self.eval(right_node, env)
        if op in ("&&", "and", "||", "or"):
            if not isinstance(a, bool):
                raise ExprError(f"invalid operation: {op} ({type(a).__name__})")
            if (op in ("&&", "and")) != a:
                return a
            b = self.eval(right_node, env)
            if not isinstance(b, bool):
                raise ExprError(f"invalid operation: {op} ({type(b).__name__})")
            return b
        b = self.eval(right_node, env)
        if op in ("in", "not in"):
            if not isinstance(b, list | dict):
                raise ExprError(f"invalid operation: in ({type(b).__name__})")
            return (a in b) == (op == "in")
        if op in ("==", "!=", "<", ">", "<=", ">="):
            return _compare(op, a, b)
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return a + b
        if not (_number(a) and _number(b)):
            raise ExprError(f"invalid operation: {op} (mismatched types {type(a).__name__} and {type(b).__name__})")
        if op == "/":
            return a / b
        if op == "%":
            return int(a) % int(b)
        return {"+": a + b, "-": a - b, "*": a * b}[op]


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def evaluate_template(text: str, evaluator: Evaluator, env: dict[str, Any] | None = None) -> Any:
    """Kargo's EvaluateTemplate: no `${{` → the text itself; else each expression's value in place, and the
    result read back as Kargo does (quotes stripped, then a number, then a boolean, else the text)."""
    if "${{" not in text:
        return text
    whole = _TEMPLATE.fullmatch(text.strip())
    if whole:
        value = evaluator.evaluate(whole.group(1), env)
        result = value if isinstance(value, str) else ("true" if value is True else "false" if value is False
                                                        else str(value))
    else:
        result = _TEMPLATE.sub(lambda m: str(evaluator.evaluate(m.group(1), env)), text)
    if len(result) > 1 and result.startswith('"') and result.endswith('"'):
        return result[1:-1]
    try:
        return float(result)
    except ValueError:
        pass
    # strconv.ParseBool's spellings
    return {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
            **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}.get(result, result)
