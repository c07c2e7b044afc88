"""The bet is written once: k x sigma x sqrt(h), the EV entry rule and the bet's defaults.

Read from the package's source with ``ast`` (comments and docstrings do not count): each
finder is also run on a snippet that writes the bet again, to show that it would see it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "hyperphysics_strategy"
#: the bet's parameters, under the names the package gives them
BET_NAMES = {
    "horizon", "vol_window", "label_vol_window", "k_up", "k_down", "barrier_k_up",
    "barrier_k_down", "fee", "default_fee", "margin", "ev_margin", "default_ev_margin",
    "entry_ev_margin",
}  # fmt: skip
EV_RULE = {"long_expected_value", "short_expected_value", "ev_signal", "entry_signal"}


@functools.cache
def _sources() -> dict[str, ast.AST]:
    return {
        str(path.relative_to(PACKAGE)): ast.parse(path.read_text())
        for path in sorted(PACKAGE.rglob("*.py"))
    }


def _is_sqrt(node: ast.AST) -> bool:
    """``sqrt(...)`` (any module's) or ``x ** 0.5``."""
    if isinstance(node, ast.Call):
        f = node.func
        return (isinstance(f, ast.Attribute) and f.attr == "sqrt") or (
            isinstance(f, ast.Name) and f.id == "sqrt"
        )
    return (
        isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Pow)
        and isinstance(node.right, ast.Constant)
        and node.right.value == 0.5
    )


def _functions(tree: ast.AST):
    """``(name of the enclosing function or '<module>', node)`` for every node."""
    stack = [("<module>", tree)]
    while stack:
        name, node = stack.pop()
        yield name, node
        inner = node.name if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) else name
        stack.extend((inner, child) for child in ast.iter_child_nodes(node))


def sigma_sqrt_h(sources: dict[str, ast.AST]) -> set[tuple[str, str]]:
    """``(file, function)`` where a volatility (a name holding ``sigma``) is multiplied by a
    square root of the horizon (a name holding ``horizon`` or ``h``)."""
    found = set()
    for path, tree in sources.items():
        for function, node in _functions(tree):
            if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)):
                continue
            for a, b in ((node.left, node.right), (node.right, node.left)):
                root = ast.unparse(b)
                if (
                    _is_sqrt(b)
                    and ("horizon" in root or "(h)" in root)
                    and ("sigma" in ast.unparse(a))
                ):
                    found.add((path, function))
    return found


def ev_rule_uses(sources: dict[str, ast.AST]) -> set[tuple[str, str]]:
    """``(file, name)`` for each module that defines or calls a function of the EV rule."""
    found = set()
    for path, tree in sources.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in EV_RULE:
                found.add((path, node.name))
            elif isinstance(node, ast.Call):
                f = node.func
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                if name in EV_RULE:
                    found.add((path, name))
    return found


def literal_bet_defaults(sources: dict[str, ast.AST]) -> set[tuple[str, str]]:
    """``(file, name)`` for each number written as the value or default of a bet
    parameter: a keyword default, an assignment (``barrier_k_up = 1.0``) or a ``Field``'s
    default in a class body (``k_up: float = Field(1.0, ...)``). A horizon of 0 is no
    default (no horizon is 0 candles): it marks an unknown one."""

    def number(node) -> bool:
        if isinstance(node, ast.UnaryOp):
            node = node.operand
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Field":
            return bool(node.args) and number(node.args[0])
        return isinstance(node, ast.Constant) and type(node.value) in (int, float)

    found = set()
    for path, tree in sources.items():
        for node in ast.walk(tree):
            pairs = []
            if isinstance(node, ast.arguments):
                args = [*node.posonlyargs, *node.args]
                positional = args[len(args) - len(node.defaults) :]
                pairs += list(zip(positional, node.defaults, strict=True))
                pairs += [
                    (a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d
                ]
                pairs = [(a.arg, d) for a, d in pairs]
            elif isinstance(node, ast.Assign):
                pairs = [(t.id, node.value) for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                pairs = [(node.target.id, node.value)] if node.value is not None else []
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith(".get")
                and len(node.args) == 2
                and isinstance(node.args[0], ast.Constant)
            ):
                key = str(node.args[0].value)
                pairs = [("horizon" if key == "label_period_candles" else key, node.args[1])]
            found.update(
                (path, n)
                for n, v in pairs
                if n.lower() in BET_NAMES
                and number(v)
                and not (n == "horizon" and ast.unparse(v) == "0")
            )
    return found


def test_k_sigma_sqrt_h_is_written_once():
    assert sigma_sqrt_h(_sources()) == {("trading/barriers.py", "horizon_sigma")}


def test_the_ev_rule_is_written_once_and_called_through_the_bet():
    assert ev_rule_uses(_sources()) == {
        ("trading/decision.py", name) for name in EV_RULE
    } | {  # BetSpec's methods: the only callers
        ("trading/bet.py", "long_expected_value"),
        ("trading/bet.py", "short_expected_value"),
        ("trading/bet.py", "entry_signal"),
    }


def test_the_bets_defaults_are_written_once():
    found = literal_bet_defaults(_sources())
    assert found == {("trading/bet.py", n) for n in ("horizon", "vol_window", "k_up", "k_down",
                                                      "fee", "margin")}  # fmt: skip


def test_the_finders_see_the_bet_written_again():
    snippet = {
        "strategy/x.py": ast.parse(
            "import numpy as np\n"
            "label_vol_window = 288\n"
            "def f(sigma, horizon, fee=0.001):\n"
            "    scale = sigma * horizon ** 0.5\n"
            "    d = 1.5 * sigma * np.sqrt(horizon)\n"
            "    h = cfg.get('label_period_candles', 12)\n"
            "    return long_expected_value(1, 2, 3, d, d, 0, fee)\n"
        )
    }
    assert sigma_sqrt_h(snippet) == {("strategy/x.py", "f")}
    assert ev_rule_uses(snippet) == {("strategy/x.py", "long_expected_value")}
    assert literal_bet_defaults(snippet) == {
        ("strategy/x.py", "label_vol_window"),
        ("strategy/x.py", "fee"),
        ("strategy/x.py", "horizon"),
    }
