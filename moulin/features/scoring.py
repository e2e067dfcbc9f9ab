"""Scoring frameworks: RICE, ICE, WSJF, value/effort and the organisation's custom formula.

Every framework is a list of named *drivers* and a *formula* over their names, evaluated by the
same small interpreter:

- a driver is entered by hand on the feature (``source: "manual"``, read from
  ``Feature.score_inputs[key]``) or computed from data (``source`` is one of ``DATA_SOURCES``:
  requesting ARR, number of customers, feedback trend…); a hand-entered driver may fall back
  to a data source or to a default when the feature has no value for it;
- in a formula, a driver's name stands for its value times its weight (1 for the built-in
  frameworks); custom formulas may also name the data sources directly (unweighted);
- formulas are parsed with :mod:`ast` and walked by hand against a whitelist (numbers, names,
  ``+ - * / **``, parentheses, ``min max log sqrt abs``): nothing is ever ``eval``-ed.

Errors are values users can act on: ``FormulaError`` (a typo, with its position and a "did you
mean"; raised when a framework is saved) and ``ScoreError`` (this feature's data cannot be
scored: division by zero, a missing input; stored on the feature, shown on the board).

This module has no database access: the services feed it ``FeatureFacts``.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from moulin.core.errors import DomainError

MAX_FORMULA_LENGTH = 500
MAX_DRIVERS = 20
MAX_SCORE = Decimal("1e11")  # the score column holds 12 digits before the decimal point
MAX_EXPONENT = 64

# Drivers computed from data, by the key a driver's ``source`` names.
DATA_SOURCES = {
    "arr_total": gettext_lazy("Requesting ARR"),
    "customer_count": gettext_lazy("Requesting customers"),
    "feedback_count": gettext_lazy("Feedback items"),
    "trend": gettext_lazy("Feedback trend (last 30 days minus the 30 before)"),
    "renewal_arr_90d": gettext_lazy("ARR renewing in the next 90 days"),
    "at_risk_arr": gettext_lazy("ARR at risk"),
    "effort": gettext_lazy("Effort (person-weeks)"),
}
MANUAL = "manual"
FUNCTIONS = {"min": (1, 20), "max": (1, 20), "log": (1, 2), "sqrt": (1, 1), "abs": (1, 1)}
MAX_WEIGHT = 1_000_000
DRIVER_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
# lazy: worded in the reader's language each time an error is raised, not once at import
ALLOWED = gettext_lazy("Use numbers, driver names, + - * / **, parentheses and min, max, log, "
                       "sqrt, abs.")


class FormulaError(DomainError):
    """A formula or driver list that cannot be used; ``position`` is 1-based, in characters."""

    code = "invalid_formula"

    def __init__(self, message: str, *, position: int | None = None, field: str = "formula"):
        super().__init__(message, field=field)
        self.position = position


class ScoreError(ValueError):
    """This feature cannot be scored with these inputs (shown on the board, never raised
    past the services)."""


# --- Built-in frameworks ------------------------------------------------------------------------

def _driver(key: str, label: object, source: str = MANUAL, **extra: object) -> dict:
    return {"key": key, "label": str(label), "source": source, "weight": 1, **extra}


def builtin(kind: str) -> tuple[list[dict], str]:
    """The drivers and formula of a built-in framework (``kind`` of ``FrameworkKind``)."""
    if kind == "rice":
        return ([_driver("reach", _("Reach"), fallback="customer_count",
                         help=_("People or customers reached per quarter; defaults to the "
                                "number of requesting customers.")),
                 _driver("impact", _("Impact"), help=_("0.25 minimal, 0.5 low, 1 medium, "
                                                       "2 high, 3 massive.")),
                 _driver("confidence", _("Confidence (%)"), help=_("0 to 100.")),
                 _driver("effort", _("Effort"), "effort")],
                "reach * impact * (confidence / 100) / effort")
    if kind == "ice":
        return ([_driver("impact", _("Impact"), help=_("1 to 10.")),
                 _driver("confidence", _("Confidence"), help=_("1 to 10.")),
                 _driver("ease", _("Ease"), help=_("1 to 10."))],
                "impact * confidence * ease")
    if kind == "wsjf":
        return ([_driver("business_value", _("Business value")),
                 _driver("time_criticality", _("Time criticality")),
                 _driver("risk_reduction", _("Risk reduction / opportunity enablement")),
                 _driver("job_size", _("Job size"), fallback="effort",
                         help=_("Defaults to the feature's effort."))],
                "(business_value + time_criticality + risk_reduction) / job_size")
    if kind == "value_effort":
        return ([_driver("value", _("Value")), _driver("effort", _("Effort"), "effort")],
                "value / effort")
    raise ValueError(f"Unknown built-in framework {kind!r}.")


BUILTIN_KINDS = ("rice", "ice", "wsjf", "value_effort")


# --- Drivers ------------------------------------------------------------------------------------

def clean_drivers(raw: object) -> list[dict]:
    """Validate a custom framework's drivers; raises FormulaError naming the bad driver."""
    if not isinstance(raw, list) or not raw:
        raise FormulaError(_("Define at least one driver."), field="drivers")
    if len(raw) > MAX_DRIVERS:
        raise FormulaError(_("At most %d drivers.") % MAX_DRIVERS, field="drivers")
    out, seen = [], set()
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            raise FormulaError(_("Driver %d must be an object with a key, a label, a source "
                                 "and a weight.") % index, field="drivers")
        key = str(item.get("key", "")).strip()
        if not DRIVER_KEY.match(key):
            raise FormulaError(_("Driver %(n)d: “%(key)s” is not a usable name: lower-case "
                                 "letters, digits and _ starting with a letter.")
                               % {"n": index, "key": key[:40]}, field="drivers")
        if key in seen or key in FUNCTIONS:
            raise FormulaError(_("Driver %(n)d: the name “%(key)s” is already taken.")
                               % {"n": index, "key": key}, field="drivers")
        seen.add(key)
        source = str(item.get("source", MANUAL))
        if source != MANUAL and source not in DATA_SOURCES:
            raise FormulaError(_("Driver “%(key)s”: unknown source “%(source)s”; use manual or "
                                 "one of %(sources)s.") % {"key": key, "source": source[:40],
                                                          "sources": ", ".join(DATA_SOURCES)},
                               field="drivers")
        weight = _number(item.get("weight", 1))
        if weight is None:
            raise FormulaError(_("Driver “%s”: the weight must be a number.") % key,
                               field="drivers")
        if abs(weight) > MAX_WEIGHT:
            raise FormulaError(_("Driver “%(key)s”: the weight is between -%(max)s and %(max)s.")
                               % {"key": key, "max": f"{MAX_WEIGHT:,}"}, field="drivers")
        driver = {"key": key, "label": str(item.get("label") or key)[:100], "source": source,
                  "weight": weight}
        if item.get("default") not in (None, ""):
            default = _number(item.get("default"))
            if default is None:
                raise FormulaError(_("Driver “%s”: the default must be a number.") % key,
                                   field="drivers")
            driver["default"] = default
        fallback = item.get("fallback")
        if fallback:
            if fallback not in DATA_SOURCES:
                raise FormulaError(_("Driver “%s”: unknown fallback source.") % key,
                                   field="drivers")
            driver["fallback"] = fallback
        if item.get("help"):
            driver["help"] = str(item["help"])[:200]
        out.append(driver)
    return out


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float | Decimal):
            number = float(value)
        elif isinstance(value, str) and value.strip():
            number = float(Decimal(value.strip().replace(",", ".")))
        else:
            return None
    except (InvalidOperation, ValueError, OverflowError):  # 10**400 has no float
        return None
    return number if math.isfinite(number) else None


def clean_inputs(raw: object) -> dict[str, float]:
    """A feature's hand-entered inputs: {driver key: number}; raises DomainError otherwise."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, Mapping):
        raise DomainError(_("Scoring inputs must be an object of driver names to numbers."),
                          field="score_inputs")
    out = {}
    for key, value in raw.items():
        key = str(key).strip()
        if not DRIVER_KEY.match(key):
            raise DomainError(_("“%s” is not a driver name.") % key[:40], field="score_inputs")
        if value in (None, ""):
            continue
        number = _number(value)
        if number is None:
            raise DomainError(_("The input “%s” must be a number.") % key, field="score_inputs")
        out[key] = number
    return out


# --- Formulas -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Formula:
    source: str
    tree: ast.Expression
    names: frozenset[str]


def _position(node: ast.AST) -> int:
    return getattr(node, "col_offset", 0) + 1


def parse_formula(text: str, names: Iterable[str]) -> Formula:
    """Parse ``text`` against the allowed ``names``; raises FormulaError (with position)."""
    source = (text or "").strip()
    allowed = frozenset(names)
    if not source:
        raise FormulaError(_("Enter a formula, for example: (reach * impact) / effort."))
    if len(source) > MAX_FORMULA_LENGTH:
        raise FormulaError(_("The formula is longer than %d characters.") % MAX_FORMULA_LENGTH)
    if "\n" in source or "\r" in source:
        raise FormulaError(_("Write the formula on one line."))
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as error:
        detail = (error.msg or "invalid syntax").removesuffix(" (<unknown>, line 1)")
        if not error.offset or error.offset > len(source):
            position = len(source) + 1  # Python reports an unfinished formula at offset 0
            raise FormulaError(_("Syntax error at the end of the formula (character %(pos)d): "
                                 "%(detail)s; is something missing?")
                               % {"pos": position, "detail": detail},
                               position=position) from error
        position = error.offset
        raise FormulaError(_("Syntax error at character %(pos)d: %(detail)s.")
                           % {"pos": position, "detail": detail}, position=position) from error
    used: set[str] = set()
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        _check(node, source, allowed, used, called)
    return Formula(source, tree, frozenset(used))


def _check(node: ast.AST, source: str, allowed: frozenset[str], used: set[str],
           called: set[int]) -> None:
    if isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
        if isinstance(node, ast.operator) and not isinstance(
                node, ast.Add | ast.Sub | ast.Mult | ast.Div | ast.Pow):
            raise FormulaError(_("This operator is not allowed. %s") % ALLOWED)
        if isinstance(node, ast.unaryop) and not isinstance(node, ast.UAdd | ast.USub):
            raise FormulaError(_("This operator is not allowed. %s") % ALLOWED)
        return
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise FormulaError(_("Only numbers are allowed at character %(pos)d. %(allowed)s")
                               % {"pos": _position(node), "allowed": ALLOWED},
                               position=_position(node))
        return
    if isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            if id(node) in called:
                return  # its arguments are checked with its Call
            raise FormulaError(_("%(name)s() needs its arguments in parentheses, e.g. "
                                 "%(name)s(reach) (character %(pos)d).")
                               % {"name": node.id, "pos": _position(node)},
                               position=_position(node))
        if node.id not in allowed:
            _unknown(node, allowed)
        used.add(node.id)
        return
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            if name is not None and name not in allowed:
                _unknown(node.func, allowed | set(FUNCTIONS))
            raise FormulaError(_("Only min, max, log, sqrt and abs can be called (character "
                                 "%d).") % _position(node), position=_position(node))
        low, high = FUNCTIONS[name]
        if node.keywords or not low <= len(node.args) <= high:
            expected = str(low) if low == high else f"{low}–{high}"
            raise FormulaError(ngettext("%(name)s() takes %(n)s argument (character %(pos)d).",
                                        "%(name)s() takes %(n)s arguments (character %(pos)d).",
                                        high)
                               % {"name": name, "n": expected, "pos": _position(node)},
                               position=_position(node))
        if any(isinstance(arg, ast.Starred) for arg in node.args):
            raise FormulaError(_("“*” arguments are not allowed. %s") % ALLOWED,
                               position=_position(node))
        return
    segment = ast.get_source_segment(source, node) or type(node).__name__
    raise FormulaError(_("“%(what)s” is not allowed at character %(pos)d. %(allowed)s")
                       % {"what": segment[:40], "pos": _position(node), "allowed": ALLOWED},
                       position=_position(node))


def _unknown(node: ast.Name, allowed: Iterable[str]) -> None:
    names = sorted(allowed)
    close = difflib.get_close_matches(node.id, names, n=1, cutoff=0.6)
    if close:
        message = _("Unknown name “%(name)s” at character %(pos)d: did you mean “%(close)s”?") \
            % {"name": node.id, "pos": _position(node), "close": close[0]}
    else:
        message = _("Unknown name “%(name)s” at character %(pos)d; available: %(names)s.") \
            % {"name": node.id, "pos": _position(node), "names": ", ".join(names)}
    raise FormulaError(message, position=_position(node))


def evaluate(formula: Formula, values: Mapping[str, float]) -> float:
    """The formula's value; raises ScoreError (division by zero, log of 0, overflow…)."""
    try:
        result = _eval(formula.tree.body, formula.source, values)
    except OverflowError as error:
        raise ScoreError(_("The score is too large to compute.")) from error
    if not math.isfinite(result):
        raise ScoreError(_("The score is not a finite number."))
    return result


def _eval(node: ast.AST, source: str, values: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return float(values[node.id])
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, source, values)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left = _eval(node.left, source, values)
        right = _eval(node.right, source, values)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            if right == 0:
                divisor = ast.get_source_segment(source, node.right) or "?"
                raise ScoreError(_("Division by zero: “%s” is 0.") % divisor)
            return left / right
        if abs(right) > MAX_EXPONENT:
            raise ScoreError(_("Exponents above %d are not allowed.") % MAX_EXPONENT)
        if left < 0 and not float(right).is_integer():
            raise ScoreError(_("A negative number cannot be raised to a fractional power."))
        if left == 0 and right < 0:
            raise ScoreError(_("Division by zero: 0 raised to a negative power."))
        return math.pow(left, right)
    if isinstance(node, ast.Call):
        name = node.func.id
        args = [_eval(arg, source, values) for arg in node.args]
        if name == "min":
            return min(args)
        if name == "max":
            return max(args)
        if name == "abs":
            return abs(args[0])
        if name == "sqrt":
            if args[0] < 0:
                raise ScoreError(_("sqrt() of a negative number."))
            return math.sqrt(args[0])
        if args[0] <= 0:
            raise ScoreError(_("log() of zero or a negative number: “%s”.")
                             % (ast.get_source_segment(source, node.args[0]) or "?"))
        if len(args) == 2:
            if args[1] <= 0 or args[1] == 1:
                raise ScoreError(_("log() base must be positive and not 1."))
            return math.log(args[0], args[1])
        return math.log(args[0])
    raise ScoreError(_("This formula cannot be evaluated."))  # unreachable after parse_formula


# --- Scoring a feature --------------------------------------------------------------------------

@dataclass(frozen=True)
class FeatureFacts:
    """What a framework can read about one feature."""

    arr_total: float = 0.0
    customer_count: int = 0
    feedback_count: int = 0
    trend: int = 0
    renewal_arr_90d: float = 0.0
    at_risk_arr: float = 0.0
    effort: float | None = None
    inputs: Mapping[str, float] = field(default_factory=dict)

    def data(self, source: str) -> float | None:
        if source == "effort":
            effort = self.effort if self.effort is not None else self.inputs.get("effort")
            return None if effort is None else float(effort)
        return float(getattr(self, source))


@dataclass(frozen=True)
class Framework:
    """A framework ready to score: its drivers, parsed formula, name and id."""

    kind: str
    drivers: list[dict]
    formula: Formula
    name: str = ""
    id: int | None = None


@dataclass(frozen=True)
class ScoreResult:
    score: Decimal | None
    error: str
    breakdown: dict


def formula_names(drivers: Iterable[dict], *, custom: bool) -> set[str]:
    """The names a formula may use: the drivers, plus the data sources for custom formulas."""
    names = {d["key"] for d in drivers}
    return names | set(DATA_SOURCES) if custom else names


def compile_framework(kind: str, drivers: list[dict] | None = None, formula: str = "",
                      name: str = "", pk: int | None = None) -> Framework:
    """Build a scorable framework; custom drivers and formula are validated (FormulaError)."""
    if kind in BUILTIN_KINDS:
        drivers, source = builtin(kind)
        return Framework(kind, drivers, parse_formula(source, formula_names(drivers,
                                                                            custom=False)),
                         name, pk)
    if kind != "custom":
        raise FormulaError(_("Unknown framework “%s”.") % kind, field="kind")
    drivers = clean_drivers(drivers)
    source = (formula or "").strip() or " + ".join(d["key"] for d in drivers)
    return Framework(kind, drivers, parse_formula(source, formula_names(drivers, custom=True)),
                     name, pk)


def _driver_value(driver: dict, facts: FeatureFacts) -> float:
    source = driver["source"]
    if source == MANUAL:
        value = facts.inputs.get(driver["key"])
        if value is None and driver.get("fallback"):
            value = facts.data(driver["fallback"])
        if value is None:
            value = driver.get("default")
    else:
        value = facts.data(source)
    if value is None:
        if source == "effort" or driver.get("fallback") == "effort":
            raise ScoreError(_("Missing input: %s (enter the effort on the feature).")
                             % driver["label"])
        raise ScoreError(_("Missing input: %s.") % driver["label"])
    return float(value)


def score_feature(framework: Framework, facts: FeatureFacts) -> ScoreResult:
    """Score one feature; a ScoreError becomes the result's ``error`` (the score is then None)."""
    rows, values = [], {}
    error = ""
    for driver in framework.drivers:
        row = {"key": driver["key"], "label": driver["label"], "source": driver["source"],
               "weight": driver["weight"], "value": None, "weighted": None}
        try:
            value = _driver_value(driver, facts)
        except ScoreError as problem:
            error = error or str(problem)
        else:
            row["value"] = round(value, 4)
            weighted = value * driver["weight"]
            if math.isfinite(weighted):
                row["weighted"] = round(weighted, 4)
                values[driver["key"]] = weighted
            else:  # a huge weight times a huge input
                error = error or _("%s times its weight is too large to compute.") \
                    % driver["label"]
        rows.append(row)
    if framework.kind == "custom":
        for source in DATA_SOURCES:
            if source in framework.formula.names and source not in values:
                raw = facts.data(source)
                if raw is None:
                    error = error or _("Missing input: %s.") % DATA_SOURCES[source]
                else:
                    values[source] = raw
    score = None
    if not error:
        try:
            result = Decimal(repr(evaluate(framework.formula, values)))
        except ScoreError as problem:
            error = str(problem)
        else:
            if abs(result) >= MAX_SCORE:
                error = _("The score is too large to store; lower the weights.")
            else:
                score = result.quantize(Decimal("0.0001"))
    breakdown = {"framework_id": framework.id, "framework": framework.name,
                 "kind": framework.kind, "formula": framework.formula.source, "drivers": rows,
                 "score": str(score) if score is not None else None, "error": error}
    return ScoreResult(score, error[:300], breakdown)


def check_formula(kind: str, drivers: list[dict] | None, formula: str) -> Framework:
    """Validate a framework for the editor: parse it, then evaluate it once with distinct
    sample inputs, so a formula that fails whatever the data (``x / 0``, ``x / (y - y)``,
    ``log(0)``) is refused before it reaches the board."""
    framework = compile_framework(kind, drivers, formula)
    names = sorted(framework.formula.names)
    sample = {name: 1.5 + 0.731 * index for index, name in enumerate(names)}
    try:
        evaluate(framework.formula, sample)
    except ScoreError as error:
        raise FormulaError(_("This formula fails whatever the data: %s") % error) from error
    return framework
