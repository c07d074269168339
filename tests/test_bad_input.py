"""Malformed input gets a clear error: every public function, argument and malformation.

For each public function (found from ``__all__``; the valid calls are in ``public_calls.py``)
each argument is malformed in every way its kind allows (NaN/inf, wrong shape or dtype,
strings, None, dicts, negative or fractional counts, labels or probabilities out of range,
zero or negative scales, non-positive step counts, empty arrays, unknown names, ...), one
test per (function, argument, malformation), named like
``test_malformed_input[vibook.metrics.nll-probs-NaN]``.

The rule: the call raises ``ValueError``/``TypeError`` whose message names the argument (for
a ``path`` argument, ``FileNotFoundError``/``FileExistsError`` naming it is clear too; for a
wrong shape or length, naming an argument it must match is clear too). A raw
JAX error, any other exception, an error that does not name the argument, and a call that
accepts the input break the rule, unless that exact (function, argument, malformation) is
listed in ``VALID_MALFORMED`` with the reason it is valid input; even then the result must
hold no NaN. Both lists in ``public_calls.py`` are checked for stale entries.
"""

import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

_spec = importlib.util.spec_from_file_location(
    "vibook_public_calls", Path(__file__).with_name("public_calls.py")
)
calls = sys.modules.setdefault("vibook_public_calls", importlib.util.module_from_spec(_spec))
if not hasattr(calls, "CASES"):
    _spec.loader.exec_module(calls)

CASES = {case.func: case for case in calls.CASES}
PUBLIC = calls.public_functions()

ARRAY_KINDS = ("data", "counts", "labels", "probs", "positive", "mask")


# ------------------------------------------------------------------ malformations by kind
# Each malformation is (label, make): ``make`` turns the valid value into the malformed one.
def _const(value):
    return lambda _: value


GARBAGE = [
    ("None", _const(None)),
    ("string", _const("abc")),
    ("dict", _const({"a": 1.0})),
    ("strings", _const(["a", "b"])),
]


def _put(v, value):
    """``v`` with its last element replaced by ``value`` (so a check of the first one misses)."""
    v = np.asarray(v)
    out = np.array(v, dtype=float if isinstance(value, float) else v.dtype, copy=True)
    out.flat[-1] = value
    return out


def _array(arg, v):
    v = np.asarray(v)
    kind = arg.kind
    out = [
        ("leading_axis", lambda v: np.asarray(v)[None]),
        ("trailing_axis", lambda v: np.asarray(v)[..., None]),
    ]
    if v.ndim >= 1:
        out.append(("scalar", lambda v: np.asarray(v).flat[0]))
        out.append(("empty", lambda v: np.asarray(v)[:0]))
        if arg.info.get("paired") and len(v) > 1:
            out.append(("one_fewer", lambda v: np.asarray(v)[:-1]))
    if v.ndim > 1:
        out.append(("flattened", lambda v: np.asarray(v).ravel()))
    out.append(("str_dtype", lambda v: np.asarray(v).astype(str)))
    out.append(("complex", lambda v: np.asarray(v).astype(complex)))
    if kind != "mask":
        out.append(("bool", lambda v: np.asarray(v).astype(bool)))
    if v.size:
        out += [
            ("NaN", lambda v: _put(v, np.nan)),
            ("inf", lambda v: _put(v, np.inf)),
            ("-inf", lambda v: _put(v, -np.inf)),
        ]
        if kind in ("counts", "labels", "positive"):
            out.append(("negative", lambda v: _put(v, -3)))
        if kind in ("counts", "labels"):
            out.append(("fractional", lambda v: _put(v, 1.5)))
        if kind == "labels" and "n" in arg.info:  # without a class count, any label is one
            n = int(arg.info["n"])
            out.append(("out_of_range", lambda v: _put(v, n)))
        if kind == "probs":
            out += [("above_1", lambda v: _put(v, 1.5)), ("below_0", lambda v: _put(v, -0.25))]
        if kind == "positive":
            out.append(("zero", lambda v: _put(v, 0.0)))
        if kind == "mask":
            out.append(("integers", lambda v: np.asarray(v).astype(int) * 2))
    return out + GARBAGE


def _nan_first_entry(d):
    return {k: _put(v, np.nan) if i == 0 else v for i, (k, v) in enumerate(d.items())}


def _nan_numbers(panel):
    """Every float number and float array of a panel dict NaN (arrays: their last element)."""
    out = {}
    for k, v in panel.items():
        if isinstance(v, float):
            out[k] = np.nan
        elif isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size:
            out[k] = _put(v, np.nan)
        else:
            out[k] = v
    return out


def _drop(d, key):
    return {k: v for k, v in d.items() if k != key}


BIMODAL = {"weights": (0.5, 0.5), "locs": (-2.0, 2.0), "scales": (0.6, 0.6)}

SCALAR_BAD = {
    "scale": [
        ("zero", _const(0.0)),
        ("negative", _const(-1.0)),
        ("NaN", _const(np.nan)),
        ("inf", _const(np.inf)),
        ("array", _const(np.array([1.0, 2.0]))),
        ("numeric_string", _const("1.0")),
    ],
    "nonneg": [
        ("negative", _const(-1.0)),
        ("NaN", _const(np.nan)),
        ("inf", _const(np.inf)),
        ("array", _const(np.array([1.0, 2.0]))),
        ("numeric_string", _const("1.0")),
    ],
    "real": [
        ("NaN", _const(np.nan)),
        ("inf", _const(np.inf)),
        ("array", _const(np.array([1.0, 2.0]))),
        ("numeric_string", _const("0.5")),
    ],
    "prob": [
        ("negative", _const(-0.1)),
        ("above_1", _const(1.5)),
        ("NaN", _const(np.nan)),
        ("numeric_string", _const("0.5")),
    ],
    "count": [
        ("zero", _const(0)),
        ("negative", _const(-2)),
        ("fractional", _const(2.5)),
        ("NaN", _const(np.nan)),
        ("True", _const(True)),
        ("array", _const(np.array([2, 3]))),
        ("numeric_string", _const("4")),
    ],
    "count0": [
        ("negative", _const(-1)),
        ("fractional", _const(2.5)),
        ("NaN", _const(np.nan)),
        ("True", _const(True)),
        ("array", _const(np.array([2, 3]))),
        ("numeric_string", _const("4")),
    ],
    "optcount": [
        ("zero", _const(0)),
        ("negative", _const(-2)),
        ("fractional", _const(2.5)),
        ("numeric_string", _const("4")),
    ],
    "choice": [("unknown", _const("no-such-option")), ("number", _const(3))],
    "name": [("unknown", _const("no_such_name")), ("number", _const(3))],
    "names": [
        ("unknown", _const(["no_such_name"])),
        ("numbers", _const([1, 2])),
        ("number", _const(3)),
        ("empty", _const([])),
    ],
    "coords": [
        ("unknown_dim", _const({"no_such_dim": 0})),
        ("out_of_range", lambda v: {k: 99 for k in v} if v else {"school": 99}),
        ("number", _const(3)),
        ("empty", _const({})),
    ],
    "bool": [("string", _const("yes")), ("int", _const(2))],
    "key": [
        ("int_seed", _const(0)),
        ("float", _const(1.5)),
        ("wrong_shape", _const(np.zeros(3, np.uint32))),
    ],
    "callable": [("number", _const(3))],
    "callable_or_none": [("string", _const("AutoNormal")), ("number", _const(3))],
    "fit": [("empty_tree", _const(xr.DataTree())), ("number", _const(3))],
    "fits": [
        ("empty", _const({})),
        ("one_fit", lambda v: dict(list(v.items())[:1])),
        ("not_a_fit", lambda v: {**v, "bad": 3}),
        ("list", lambda v: list(v.values())),
    ],
    "dataset": [("empty", _const(xr.Dataset())), ("number", _const(3))],
    "draws": [
        ("empty", _const({})),
        ("strings", lambda v: {next(iter(v)): "abc"}),
        ("NaN", _nan_first_entry),
        ("missing", lambda v: dict(list(v.items())[1:])),
    ],
    "weights": [
        ("empty", _const({})),
        ("strings", lambda v: {next(iter(v)): "abc"}),
        ("NaN", _nan_first_entry),
        ("missing", lambda v: dict(list(v.items())[:-1])),
    ],
    "arrays": [
        ("empty", _const({})),
        ("strings", lambda v: {next(iter(v)): "abc"}),
        ("NaN", _nan_first_entry),
    ],
    "panel": [("empty", _const({})), ("NaN", _nan_numbers), ("number", _const(3))],
    "target": [
        ("empty", _const({})),
        ("missing", _const(_drop(BIMODAL, "scales"))),
        ("NaN", _const({**BIMODAL, "locs": (-2.0, np.nan)})),
        ("zero_scale", _const({**BIMODAL, "scales": (0.6, 0.0)})),
        ("lengths_differ", _const({**BIMODAL, "locs": (-2.0, 0.0, 2.0)})),
        ("number", _const(3)),
    ],
    "pair": [
        ("NaN", _const((np.nan, 1.0))),
        ("zero_scale", _const((1.0, 0.0))),
        ("negative_scale", _const((1.0, -1.0))),
        ("one_number", _const((1.0,))),
        ("number", _const(3)),
    ],
    "words": [
        ("empty", _const([])),
        ("numbers", _const([[1, 2], [3]])),
        ("flat_string", _const("apple banana")),
    ],
    "hidden": [
        ("empty", _const(())),
        ("zero_width", _const((0,))),
        ("negative_width", _const((-3,))),
        ("fractional_width", _const((2.5,))),
    ],
    "classes": [
        ("one_class", _const([3])),
        ("out_of_range", _const([3, 12])),
        ("duplicates", _const([3, 3])),
        ("fractional", _const([3.5, 7])),
        ("digit_string", _const("37")),
        ("number", _const(3)),
    ],
    "shape": [
        ("mismatch", _const((5, 5))),
        ("zero", _const((0, 8))),
        ("number", _const(3)),
    ],
    "path": [("number", _const(3))],
    "normal_gamma": [
        ("tuple", lambda v: tuple(v)),
        ("zero_lam", lambda v: v._replace(lam=0.0)),
        ("negative_b", lambda v: v._replace(b=-1.0)),
        ("NaN_mu", lambda v: v._replace(mu=np.nan)),
        ("string_a", lambda v: v._replace(a="2")),
    ],
    "state": [("dict", _const({"a": 1})), ("number", _const(3))],
}

# Garbage that is no malformation for a kind: any string is a path, and a list of strings
# is a list of words or names; "string" repeats "unknown" for a name.
NOT_GARBAGE = {
    "path": {"string"},
    "words": {"strings"},
    "names": {"strings"},
    "choice": {"string"},
    "name": {"string"},
}
OPTIONAL_KINDS = ("optcount", "callable_or_none", "state")  # None is always valid for these


def malformations(arg):
    """(label, make) of every malformation of ``arg``, each label once."""
    if arg.kind in ARRAY_KINDS:
        out = _array(arg, arg.resolve())
    else:
        skip = NOT_GARBAGE.get(arg.kind, set())
        out = SCALAR_BAD[arg.kind] + [g for g in GARBAGE if g[0] not in skip]
        if arg.kind == "optcount" and "maximum" in arg.info:
            out.append(("too_large", _const(arg.info["maximum"] + 5)))
    if arg.info.get("none_ok") or arg.kind in OPTIONAL_KINDS:
        out = [m for m in out if m[0] != "None"]
    seen, unique = set(), []
    for label, make in out:
        if label not in seen:
            seen.add(label)
            unique.append((label, make))
    return unique


# ------------------------------------------------------------------ the rule
# A value of the wrong shape or length may be refused for not matching another argument.
SHAPE_LABELS = {"leading_axis", "trailing_axis", "scalar", "flattened", "one_fewer"}


def _names(message: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w(])", message) is not None


def _partners(case, index) -> set[str]:
    """Arguments whose shape must match ``case.args[index]``: a mismatch may name them."""
    arg = case.args[index]
    out = set(arg.info.get("partners", ()))
    if arg.info.get("paired"):
        out |= {a.name for i, a in enumerate(case.args) if i != index and a.info.get("paired")}
    return out


def _judge(case, index, value, label):
    """'clear', 'worked' (with the result), or a description of how the rule was broken."""
    arg = case.args[index]
    named = {arg.name} | (_partners(case, index) if label in SHAPE_LABELS else set())
    try:
        result = calls.call(case, {index: value})
    except (ValueError, TypeError) as err:
        origin = type(err).__module__
        message = str(err)
        if origin.startswith(("jax", "jaxlib")) or "Traced<" in message:
            return f"raw JAX {type(err).__name__}: {message[:200]}", None
        if not any(_names(message, name) for name in named):
            return f"{type(err).__name__} not naming {arg.name!r}: {message[:200]}", None
        return "clear", None
    except OSError as err:  # a path that is missing or taken: FileNotFoundError and kin
        if arg.kind == "path" and _names(str(err), arg.name):
            return "clear", None
        return f"{type(err).__name__}: {str(err)[:200]}", None
    except Exception as err:  # noqa: BLE001 - any other exception breaks the rule
        return f"{type(err).__module__}.{type(err).__name__}: {str(err)[:200]}", None
    return "worked", result


def _params():
    params = []
    for name in PUBLIC:
        case = CASES.get(name)
        if case is None:
            continue  # reported by test_every_public_function_has_a_valid_call
        for index, arg in enumerate(case.args):
            if arg.kind == "fixed":
                continue
            gap = calls.KNOWN_GAPS.get((name, arg.name))
            marks = [pytest.mark.xfail(reason=f"known gap: {gap}", strict=False)] if gap else []
            for label, _ in malformations(arg):
                params.append(
                    pytest.param(name, index, label, id=f"{name}-{arg.name}-{label}", marks=marks)
                )
    return params


PARAMS = _params()


@pytest.mark.parametrize(("name", "index", "label"), PARAMS)
def test_malformed_input(name, index, label, tmp_path, monkeypatch):
    # A malformed ``path`` may be a plain string that is a valid path: keep what it writes here.
    monkeypatch.chdir(tmp_path)
    case = CASES[name]
    arg = case.args[index]
    make = dict(malformations(arg))[label]
    verdict, result = _judge(case, index, make(arg.resolve()), label)
    listed = (name, arg.name, label) in calls.VALID_MALFORMED
    if verdict == "clear":
        if listed:
            pytest.fail(
                f"{arg.name} {label} is listed in VALID_MALFORMED as valid input, but the "
                "call now refuses it: remove the entry",
                pytrace=False,
            )
        return
    if verdict != "worked":
        pytest.fail(verdict, pytrace=False)
    if not listed:
        pytest.fail(
            f"accepted {arg.name} {label}: it should raise a ValueError or TypeError naming "
            f"{arg.name!r} (if this is valid input, list it in VALID_MALFORMED with the reason)",
            pytrace=False,
        )
    nans = calls.nan_paths(result, case.nan_marks)
    if nans:
        pytest.fail(
            f"accepted {arg.name} {label}, returned NaN in {', '.join(nans[:3])}", pytrace=False
        )


@pytest.mark.parametrize(
    "name", [n for n in PUBLIC if n in CASES and not CASES[n].keyed], ids=lambda n: n
)
def test_valid_call_works(name, tmp_path, monkeypatch):
    """The valid call itself works, with no NaN (keyed ones: see test_reproducibility.py)."""
    monkeypatch.chdir(tmp_path)
    case = CASES[name]
    assert not calls.nan_paths(calls.call(case), case.nan_marks)


def test_every_public_function_has_a_valid_call():
    """Functions added later must get an entry in public_calls.py (or a NOT_USER_FACING one)."""
    skipped = set(calls.NOT_USER_FACING)
    missing = sorted(set(PUBLIC) - set(CASES) - skipped)
    stale = sorted((set(CASES) | skipped) - set(PUBLIC))
    both = sorted(set(CASES) & skipped)
    assert not missing, f"no valid call in tests/public_calls.py for: {missing}"
    assert not stale, f"entries in tests/public_calls.py that are not public functions: {stale}"
    assert not both, f"in NOT_USER_FACING and given a call too: {both}"
    assert len(calls.CASES) == len(CASES), "a function has two entries in CASES"


def test_known_gaps_name_real_arguments():
    """Every KNOWN_GAPS entry is a (function, argument) that the fuzz tries."""
    tried = {(name, CASES[name].args[index].name) for name, index, _ in (p.values for p in PARAMS)}
    assert not sorted(set(calls.KNOWN_GAPS) - tried)


def test_valid_malformed_has_no_stale_entries():
    """Every VALID_MALFORMED entry is a (function, argument, malformation) that is tried."""
    tried = {
        (name, CASES[name].args[index].name, label)
        for name, index, label in (p.values for p in PARAMS)
    }
    stale = sorted(set(calls.VALID_MALFORMED) - tried)
    assert not stale, f"VALID_MALFORMED entries that are not tried (any more): {stale}"
    assert all(isinstance(r, str) and r for r in calls.VALID_MALFORMED.values())
