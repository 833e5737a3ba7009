"""The one way numbers and choices given to charmodels are checked.

Every config, sampling argument and app request goes through these, so the same value
gets the same answer everywhere. A number from a user interface or JSON may arrive as a
float (128.0): it counts as the whole number it equals. numpy's numbers count like Python's;
booleans, NaN and infinities are never numbers here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from .errors import CharmodelsError


def shown(value: Any) -> str:
    """A value as an error message quotes it, even an int too large for a float."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return f"about {'-' if value < 0 else ''}10^{len(str(abs(value))) - 1}"
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:40] + "…")
    return repr(value)


def _is_real(value: Any) -> bool:
    # numbers.Real takes numpy's ints and floats (not numpy's bool_); Python's bool is an int, refused
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def whole(name: str, value: Any, low: int, high: int) -> int:
    """`value` as an int from low to high (an integral float counts), else CharmodelsError("not_whole")."""
    ok = _is_real(value) and (isinstance(value, numbers.Integral) or (math.isfinite(value) and value == int(value)))
    if not ok or not low <= value <= high:
        raise CharmodelsError("not_whole", name=name, low=f"{low:,}", high=f"{high:,}", got=shown(value))
    return int(value)


def number(name: str, value: Any, low: float, high: float, *, above_low: bool = False) -> float:
    """`value` as a float from low to high (above low when `above_low`), else CharmodelsError
    ("not_number", or "not_number_above" when low itself is excluded)."""
    ok = _is_real(value) and not (isinstance(value, float) and math.isnan(value))
    if ok:
        try:
            as_float = float(value)
        except OverflowError:  # an int too large for a float is out of any range here
            ok = False
        else:
            ok = (low < as_float if above_low else low <= as_float) and as_float <= high
    if not ok:
        code = "not_number_above" if above_low else "not_number"
        raise CharmodelsError(code, name=name, low=f"{low:g}", high=f"{high:g}", got=shown(value))
    return as_float


def choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """`value` if it is one of `choices`, else CharmodelsError("not_choice") listing them."""
    options = list(choices)
    if not isinstance(value, str) or value not in options:
        raise CharmodelsError("not_choice", name=name, choices=", ".join(options), got=shown(value))
    return value


def text(name: str, value: Any) -> str:
    """`value` if it is a str, else CharmodelsError("not_text")."""
    if not isinstance(value, str):
        raise CharmodelsError("not_text", name=name, got=type(value).__name__)
    return value
