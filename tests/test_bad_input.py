"""Malformed input gets a clear error: a property-based test of every public function.

For each public function (found from ``__all__``; the valid calls are in ``public_calls.py``)
hypothesis picks one argument and malforms it (NaN/inf, wrong shape or dtype, strings, None,
dicts, negative or fractional counts, labels or probabilities out of range, zero or negative
scales, non-positive step counts, empty arrays). The rule: the call either works, with no
NaN in its result, or raises ``ValueError``/``TypeError`` whose message names the argument.
A raw JAX error, any other exception, an error that does not name the argument, or a silent
NaN breaks the rule. (For a ``path`` argument, ``FileNotFoundError``/``FileExistsError`` naming
it is clear too.) The per-function tally (inputs tried, fraction with a clear error) is
printed at the end of the run.
"""

import importlib.util
import re
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location(
    "vibook_public_calls", Path(__file__).with_name("public_calls.py")
)
calls = sys.modules.setdefault("vibook_public_calls", importlib.util.module_from_spec(_spec))
if not hasattr(calls, "CASES"):
    _spec.loader.exec_module(calls)

CASES = {case.func: case for case in calls.CASES}
PUBLIC = calls.public_functions()
TALLY = defaultdict(lambda: {"tried": set(), "clear": set(), "worked": set(), "broke": {}})

# ------------------------------------------------------------------ malformations by kind
GARBAGE = [("None", None), ("a string", "abc"), ("a dict", {"a": 1.0}), ("strings", ["a", "b"])]


def _put(v, index, value):
    out = np.array(v, dtype=float if isinstance(value, float) else v.dtype, copy=True)
    out.flat[index] = value
    return out


def _array(arg, v):
    v = np.asarray(v)
    kind, n = arg.kind, v.size
    out = [st.sampled_from(GARBAGE)]
    shapes = [("an extra leading axis", v[None]), ("an extra trailing axis", v[..., None])]
    if v.ndim >= 1:
        shapes.append(("a scalar", v.flat[0]))
        shapes.append(("empty", v[:0]))
        if len(v) > 1:
            shapes.append(("one row fewer", v[:-1]))
    if v.ndim > 1:
        shapes.append(("flattened", v.ravel()))
    out.append(st.sampled_from(shapes))
    out.append(st.sampled_from([("strings", v.astype(str)), ("complex", v.astype(complex))]))
    if kind != "mask":
        out.append(st.just(("booleans", v.astype(bool))))
    if n:
        index = st.integers(0, n - 1)
        bad = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}
        out.append(
            st.tuples(st.sampled_from(list(bad)), index).map(
                lambda t: (f"{t[0]} at flat index {t[1]}", _put(v, t[1], bad[t[0]]))
            )
        )
        extra = []
        if kind in ("counts", "labels", "positive"):
            extra.append(("negative", -3))
        if kind in ("counts", "labels"):
            extra.append(("fractional", 1.5))
        if kind == "labels":
            extra.append(("out of range", int(arg.info.get("n", int(v.max()) + 1))))
        if kind == "probs":
            extra += [("above 1", 1.5), ("below 0", -0.25)]
        if kind == "positive":
            extra.append(("zero", 0.0))
        if extra:
            out.append(
                st.tuples(st.sampled_from(extra), index).map(
                    lambda t: (f"{t[0][0]} at flat index {t[1]}", _put(v, t[1], t[0][1]))
                )
            )
        if kind == "mask":
            out.append(st.just(("integers", v.astype(int) * 2)))
    return out


SCALAR_BAD = {
    "scale": [
        ("zero", 0.0),
        ("negative", -1.0),
        ("nan", np.nan),
        ("inf", np.inf),
        ("an array", np.array([1.0, 2.0])),
        ("a numeric string", "1.0"),
    ],
    "real": [
        ("nan", np.nan),
        ("inf", np.inf),
        ("an array", np.array([1.0, 2.0])),
        ("a numeric string", "0.5"),
    ],
    "prob": [("negative", -0.1), ("above 1", 1.5), ("nan", np.nan), ("a string", "0.5")],
    "count": [
        ("zero", 0),
        ("negative", -2),
        ("fractional", 2.5),
        ("nan", np.nan),
        ("True", True),
        ("an array", np.array([2, 3])),
    ],
    "count0": [
        ("negative", -1),
        ("fractional", 2.5),
        ("nan", np.nan),
        ("True", True),
        ("an array", np.array([2, 3])),
    ],
    "optcount": [("zero", 0), ("negative", -2), ("fractional", 2.5), ("a string", "4")],
    "choice": [("an unknown name", "no-such-option"), ("a number", 3)],
    "bool": [("a string", "yes"), ("an int", 2)],
    "key": [("an int seed", 0), ("a float", 1.5), ("a wrong-shaped array", np.zeros(3, np.uint32))],
    "callable": [("a number", 3)],
    "callable_or_none": [("a string", "AutoNormal"), ("a number", 3)],
    "fit": [("an empty DataTree", xr.DataTree()), ("a number", 3)],
    "draws": [("an empty dict", {}), ("a dict of strings", {"weights": "abc"})],
    "weights": [("an empty dict", {}), ("a dict of strings", {"w0": "abc"})],
    "words": [("empty", []), ("numbers", [[1, 2], [3]]), ("a flat string", "apple banana")],
    "hidden": [
        ("empty", ()),
        ("zero width", (0,)),
        ("negative width", (-3,)),
        ("fractional width", (2.5,)),
    ],
    "path": [("a number", 3)],
    "state": [("a dict", {"a": 1}), ("a number", 3)],
}


def _mutations(arg):
    value = arg.resolve()
    if arg.kind in ("data", "counts", "labels", "probs", "positive", "mask"):
        return st.one_of(_array(arg, value))
    out = list(SCALAR_BAD[arg.kind])
    if arg.kind not in ("callable_or_none", "state", "optcount"):
        out += [g for g in GARBAGE if g[0] != "strings" or arg.kind != "words"]
    if arg.kind == "optcount" and "maximum" in arg.info:
        out.append(("larger than the data", arg.info["maximum"] + 5))
    if arg.kind == "draws":
        out.append(
            (
                "one entry with NaN",
                {
                    k: _put(np.asarray(v), 0, np.nan) if i == 0 else v
                    for i, (k, v) in enumerate(value.items())
                },
            )
        )
        out.append(("one entry missing", dict(list(value.items())[1:])))
    if arg.kind == "weights":
        out.append(
            (
                "one entry with NaN",
                {
                    k: _put(np.asarray(v), 0, np.nan) if i == 0 else v
                    for i, (k, v) in enumerate(value.items())
                },
            )
        )
        out.append(("one entry missing", dict(list(value.items())[:-1])))
    return st.sampled_from(out)


# ------------------------------------------------------------------ the rule
def _names(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w(])", message) is not None


def _judge(case, index, value):
    """'clear', 'worked', or a description of how the rule was broken."""
    arg = case.args[index]
    try:
        result = calls.call(case, {index: value})
    except (ValueError, TypeError) as err:
        origin = type(err).__module__
        message = str(err)
        if origin.startswith(("jax", "jaxlib")) or "Traced<" in message:
            return f"raw JAX {type(err).__name__}: {message[:150]}"
        if not _names(message, arg.name):
            return f"{type(err).__name__} not naming {arg.name!r}: {message[:150]}"
        return "clear"
    except OSError as err:  # a path that is missing or taken: FileNotFoundError and kin
        if arg.kind == "path" and _names(str(err), arg.name):
            return "clear"
        return f"{type(err).__name__}: {str(err)[:150]}"
    except Exception as err:  # noqa: BLE001 - any other exception breaks the rule
        return f"{type(err).__module__}.{type(err).__name__}: {str(err)[:150]}"
    nans = calls.nan_paths(result, case.nan_marks)
    if nans:
        return f"accepted and returned NaN in {', '.join(nans[:3])}"
    return "worked"


def _cases():
    params = []
    for name in PUBLIC:
        if name in calls.EXCLUDED:
            continue
        case = CASES.get(name)
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case and case.xfail else []
        params.append(pytest.param(name, marks=marks, id=name.removeprefix("vibook.")))
    return params


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not TALLY:
        return
    lines, total, clear = [], 0, 0
    for name, t in sorted(TALLY.items()):
        tried = len(t["tried"])
        total += tried
        clear += len(t["clear"])
        frac = len(t["clear"]) / tried if tried else float("nan")
        lines.append(
            f"{name.removeprefix('vibook.'):48s} tried {tried:3d}  clear error {frac:6.1%}  "
            f"worked {len(t['worked']):2d}  broke the rule {len(t['broke']):2d}"
        )
    if total:
        lines.append(f"{'all':48s} tried {total:3d}  clear error {clear / total:6.1%}")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        reporter.write_sep("-", "malformed inputs per public function")
        for line in lines:
            reporter.write_line(line)


@pytest.mark.parametrize("name", _cases())
def test_malformed_input_gets_a_clear_error(name, tmp_path, monkeypatch):
    # A malformed ``path`` may be a plain string that is a valid path: keep what it writes here.
    monkeypatch.chdir(tmp_path)
    case = CASES.get(name)
    assert case is not None, f"no valid call for {name} in tests/public_calls.py: add one"
    if not case.keyed:  # the valid call works (keyed ones: see test_reproducibility.py)
        assert not calls.nan_paths(calls.call(case), case.nan_marks)
    mutable = [i for i, a in enumerate(case.args) if a.kind != "fixed"]
    if not mutable:
        return
    tally = TALLY[name]
    strategies = {i: _mutations(case.args[i]) for i in mutable}

    @settings(
        max_examples=case.max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.data())
    def throw(data):
        index = data.draw(st.sampled_from(mutable), label="argument")
        label, value = data.draw(strategies[index], label="malformation")
        what = f"{case.args[index].name}: {label}"
        if what in tally["tried"]:
            return
        tally["tried"].add(what)
        verdict = _judge(case, index, value)
        if verdict in ("clear", "worked"):
            tally[verdict].add(what)
        else:
            tally["broke"][what] = verdict

    throw()
    broke = tally["broke"]
    assert not broke, f"{len(broke)} malformed input(s) broke the rule:\n" + "\n".join(
        f"  {what} -> {verdict}" for what, verdict in broke.items()
    )


def test_every_public_function_has_a_valid_call():
    """Functions added later must get an entry in public_calls.py (or an exclusion reason)."""
    missing = sorted(set(PUBLIC) - set(CASES) - set(calls.EXCLUDED))
    stale = sorted(set(CASES) - set(PUBLIC))
    assert not missing, f"no valid call in tests/public_calls.py for: {missing}"
    assert not stale, f"entries in tests/public_calls.py no longer public: {stale}"
