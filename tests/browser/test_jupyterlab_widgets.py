"""Every notebook with a widget, in a real JupyterLab in a real (headless) browser.

For each notebook: open it, run all cells with the Run menu, wait for the kernel, check that no
cell has an error output and no widget failed to render; then move one slider with the keyboard
(as a student would) and check that the readout shows what the widget's pure function computes
for the new slider values, and that the figure was redrawn. Screenshots of the widget before and
after the move go to ``test-artifacts/browser/``. Then the slider is moved six more steps (three
away, three back), each timed from the key press to the new figure in the page, and the median
and worst go to ``test-artifacts/browser/widget-redraw-ms.json`` (recorded, not asserted: the
time depends on the machine).

Adding a notebook: a notebook whose code uses widgets is found automatically and gets the
generic check (no errors; the first slider moves; the readout or the figure changes). A row in
``CASES`` makes the check exact: which slider to move, how far, and what the readout must say.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
RUN_TIMEOUT_MS = 240_000  # a notebook must run in well under 2 min; allow for a loaded CI box
UPDATE_TIMEOUT_MS = 60_000  # one widget redraw: a pure function and one matplotlib figure
TIMED_STEPS = 3  # slider steps timed each way
REDRAW_TIMES = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
REDRAW_TIMES /= "widget-redraw-ms.json"
# A traceback inside a widget's Output (a redraw that raised) is not a cell error output, so
# the page text is searched for it too.
WIDGET_ERRORS = ("Error displaying widget", "model not found", "Traceback (most recent call last)")
ROUND_3 = 0.5e-3 + 1e-9  # what rounding a number to 3 decimals can change it by
ROUND_2 = 0.5e-2 + 1e-9
ROUND_4 = 0.5e-4 + 1e-9
# A widget shown as its text repr means the browser side of ipywidgets is missing.
WIDGET_AS_TEXT = re.compile(r"\b(V?H?Box|\w+Slider|Output|interactive)\((children|value|outputs)=")


Shown = tuple[str, float, float]  # (label in the readout, expected value, tolerance)


@dataclass(frozen=True)
class WidgetCase:
    """What to do with one notebook's widget and what it must then show.

    ``slider`` is the description of the slider to move; ``presses`` ArrowRight (or ArrowLeft
    when negative) key presses on its handle, each moving it by ``step`` (``None``: not
    checked, as for log sliders). ``expected`` gets the widget's controls after the move
    (description -> displayed value, as text) and returns what the ``.vibook-readout`` must
    show, as ``(label, value, tolerance)``: the number after ``label =`` in the readout must be
    within ``tolerance`` of ``value``. ``None`` checks only that the readout (if any) or the
    figure changed. ``inputs``, if given, is a Python expression evaluated in the notebook's
    kernel after it ran (the data the widget was built on, as JSON-able values); ``expected``
    then gets it as a second argument.
    """

    notebook: str
    slider: str | None = None
    presses: int = 1
    step: float | None = None
    expected: Callable[..., list[Shown]] | None = None
    inputs: str | None = None
    widget_index: int = 0


def _coin_readout(controls: dict[str, str]) -> list[Shown]:
    """Readout of ``vibook.widgets.coin_flip_explorer`` for a Beta prior, from its sliders."""
    from vibook.models import beta_binomial_log_evidence, coin_grid_posterior

    assert controls["prior"].startswith("Beta"), controls
    a, b = float(controls["prior a"]), float(controls["prior b"])
    heads, tails = int(controls["heads"]), int(controls["tails"])
    panel = coin_grid_posterior(heads, flips=heads + tails, prior="beta", a=a, b=b)
    # The grid (801 cells) must agree with the exact conjugate answer to well under the 3
    # decimals shown; otherwise the values below would be checking the wrong number.
    exact_mean = (a + heads) / (a + b + heads + tails)
    exact_log_z = beta_binomial_log_evidence(heads, flips=heads + tails, a=a, b=b)
    assert math.isclose(panel["posterior_mean"], exact_mean, abs_tol=2e-4)
    assert math.isclose(panel["log_evidence"], exact_log_z, abs_tol=2e-3)
    # Slider values are shown exactly (steps of 0.5 and whole counts), so the only difference
    # allowed is the readout's rounding to 3 decimals.
    return [
        ("posterior mean", panel["posterior_mean"], ROUND_3),
        ("log evidence", panel["log_evidence"], ROUND_3),
    ]


def _log_value(shown: str, step: float) -> float:
    """A log slider's value from its readout (3 significant digits), snapped to its step.

    A value the slider was built with off its grid of exponents (``q_sd=0.5``) stays there until
    the slider moves (it redraws on release, so nothing sends the snapped value back): when the
    snapped value does not round to what is shown, the value is the one shown.
    """
    snapped = 10 ** (round(math.log10(float(shown)) / step) * step)
    decimals = len(shown.partition(".")[2])
    return snapped if abs(snapped - float(shown)) <= 0.5 * 10**-decimals + 1e-12 else float(shown)


def _mixture_readout(controls: dict[str, str], x: list) -> list[Shown]:
    """Readout of ``vibook.widgets.mixture_explorer``: clusters kept and the largest weight."""
    import numpy as np

    from vibook.panels import mixture_occupancy

    panel = mixture_occupancy(
        np.asarray(x),
        n_components=int(controls["components"]),
        concentration=_log_value(controls["concentration"], 0.1),  # ipywidgets' default step
    )
    return [
        ("clusters used", panel["n_used"], 0),  # a count: exactly
        ("weights", max(panel["weights"]), ROUND_2),
    ]


def _elbo_readout(controls: dict[str, str], x: list) -> list[Shown]:
    """Readout of ``vibook.widgets.elbo_explorer``: ELBO, KL and the log evidence, exact."""
    import numpy as np

    from vibook.panels import elbo_panel

    # "q mean" moves in steps of 0.01 and is shown to 2 decimals, so it is read exactly.
    # "q sd" is a log slider (shown to 3 digits): read it back on its grid of exponents.
    q_sd = _log_value(controls["q sd"], 0.1)  # ipywidgets' default step
    panel = elbo_panel(np.asarray(x), float(controls["q mean"]), q_sd)
    return [
        ("ELBO", panel["elbo"], ROUND_4),
        ("KL(q || posterior)", panel["kl"], ROUND_4),
        ("log p(x)", panel["log_evidence"], ROUND_4),
    ]


def _bnn_prior_readout(controls: dict[str, str]) -> list[Shown]:
    """Readout of ``vibook.widgets.bnn_prior_explorer``: sd and mean |slope| of prior draws."""
    from vibook.panels import bnn_prior_panel

    panel = bnn_prior_panel(
        prior_scale=_log_value(controls["prior scale"], 0.05),
        width=int(controls["width"]),
        activation=controls["activation"],
    )
    return [
        ("prior sd of f(x)", panel["sd"], ROUND_2),
        ("mean |slope|", panel["roughness"], ROUND_2),
    ]


def _tau_prior_readout(controls: dict[str, str]) -> list[Shown]:
    """Readout of ``vibook.widgets.tau_prior_explorer``: the exact posterior of tau."""
    from vibook.panels import tau_prior_panel

    names = {"half-Cauchy": "half_cauchy", "half-normal": "half_normal", "uniform": "uniform"}
    panel = tau_prior_panel(
        tau_prior=names[controls["prior"]],
        tau_scale=_log_value(controls["prior scale"], 0.05),
    )
    return [
        ("posterior mean of tau", panel["posterior_mean"], ROUND_2),
        ("P(tau < 5)", panel["p_below"], ROUND_3),
    ]


# One row per notebook whose widget has an exact expected readout.
CASES = [
    WidgetCase(
        "01_bayes_theorem.ipynb", slider="prior a", presses=3, step=0.5, expected=_coin_readout
    ),
    WidgetCase(
        "02_latent_variables_gmm.ipynb",
        slider="components",
        presses=-2,
        step=1,
        expected=_mixture_readout,
        inputs="x.tolist()",
    ),
    WidgetCase(
        "03_kl_and_elbo.ipynb",
        slider="q mean",
        presses=20,
        step=0.01,
        expected=_elbo_readout,
        inputs="x.tolist()",
    ),
    WidgetCase(
        "06_vi_vs_mcmc_diagnostics.ipynb",
        slider="prior scale",
        presses=4,  # 10**0.7 -> 10**0.9 in steps of 0.05 of the exponent
        expected=_tau_prior_readout,
    ),
    WidgetCase(
        "11_priors_as_inductive_bias.ipynb",
        slider="prior scale",
        presses=4,  # 10**0 -> 10**0.2 in steps of 0.05 of the exponent
        expected=_bnn_prior_readout,
    ),
]

_WIDGET_CODE = re.compile(r"ipywidgets|vibook\.widgets|\bwidgets\.\w+\(|\binteract(ive)?\(")


def _uses_widgets(path: Path) -> bool:
    cells = json.loads(path.read_text())["cells"]
    source = "\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c["cell_type"] == "code"
    )
    return bool(_WIDGET_CODE.search(source))


def _cases() -> list:
    by_name = {case.notebook: case for case in CASES}
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb") if _uses_widgets(p))
    names += [name for name in by_name if name not in names]  # a row whose notebook is gone fails
    return [
        pytest.param(by_name.get(name, WidgetCase(name)), id=name.removesuffix(".ipynb"))
        for name in names
    ]


# --- driving JupyterLab -----------------------------------------------------------------------

_NOTEBOOK_STATE = """(path) => {
  const app = window.jupyterapp;
  if (!app) return null;
  const nb = Array.from(app.shell.widgets('main')).find(w => w.context && w.context.path === path);
  if (!nb || !nb.content || !nb.sessionContext) return null;
  const kernel = nb.sessionContext.session ? nb.sessionContext.session.kernel : null;
  const cells = nb.content.widgets.filter(
    c => c.model.type === 'code' && c.model.sharedModel.getSource().trim() !== '');
  const errors = [];
  let pending = 0;
  cells.forEach((c, i) => {
    if (c.model.executionCount === null) pending += 1;
    for (const o of c.model.outputs.toJSON()) {
      if (o.output_type === 'error') errors.push(`code cell ${i}: ${o.ename}: ${o.evalue}`);
    }
  });
  return {
    kernel: kernel ? kernel.name : null,
    status: kernel ? kernel.status : null,
    ready: nb.context.isReady && nb.sessionContext.isReady,
    cells: cells.length,
    pending: pending,
    errors: errors,
  };
}"""


_KERNEL_VALUE = """async ([path, expr]) => {
  const nb = Array.from(window.jupyterapp.shell.widgets('main'))
    .find(w => w.context && w.context.path === path);
  const kernel = nb.sessionContext.session.kernel;
  const code = `import json as _vibook_json\nprint(_vibook_json.dumps(${expr}))`;
  const future = kernel.requestExecute({code, silent: false, store_history: false});
  let text = '';
  let error = '';
  future.onIOPub = msg => {
    if (msg.header.msg_type === 'stream') text += msg.content.text;
    if (msg.header.msg_type === 'error') error = `${msg.content.ename}: ${msg.content.evalue}`;
  };
  await future.done;
  return {text, error};
}"""


def kernel_value(page, path: str, expr: str):
    """Evaluate ``expr`` in the notebook's kernel (without touching the notebook) via JSON."""
    got = page.evaluate(_KERNEL_VALUE, [path, expr])
    assert not got["error"], f"evaluating {expr!r} in the kernel: {got['error']}"
    return json.loads(got["text"])


def _state(page, path: str) -> dict | None:
    return page.evaluate(_NOTEBOOK_STATE, path)


def _wait(page, path: str, predicate: str, timeout_ms: int) -> dict:
    """Wait until ``predicate(state)`` (JS) holds for the notebook, or an error output appears."""
    handle = page.wait_for_function(
        f"""(path) => {{
          const s = ({_NOTEBOOK_STATE})(path);
          return s && (s.errors.length > 0 || ({predicate})(s)) ? s : null;
        }}""",
        arg=path,
        timeout=timeout_ms,
        polling=250,
    )
    return handle.json_value()


def open_and_run_all(page, lab, notebook: str) -> dict:
    """Open ``notebook`` in JupyterLab, run all cells from the Run menu, wait for the kernel."""
    # ``reset``: a fresh workspace holding only this notebook, not those opened before.
    page.goto(f"{lab.url}/lab/tree/{notebook}?reset&token={lab.token}")
    state = _wait(page, notebook, "s => s.ready && s.status === 'idle'", 120_000)
    assert state["kernel"] == "vibook", f"notebook runs on kernel {state['kernel']!r}"
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    state = _wait(page, notebook, "s => s.pending === 0 && s.status === 'idle'", RUN_TIMEOUT_MS)
    assert not state["errors"], "cells raised errors:\n" + "\n".join(state["errors"])
    return state


def _notebook(page):
    """The notebook on show (other tabs, if any, are hidden)."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")


def _widget_area(page, case: WidgetCase):
    """The output area holding the widget under test (the one with a readout, if any)."""
    readouts = _notebook(page).locator(".jp-OutputArea-output:has(.vibook-readout)")
    if case.expected is not None or readouts.count():
        area = readouts.nth(case.widget_index)
    else:
        sliders = _notebook(page).locator(".jp-OutputArea-output:has(.widget-slider)")
        area = sliders.nth(case.widget_index)
    try:
        area.wait_for(state="visible", timeout=30_000)
    except Exception as e:
        raise AssertionError(f"no widget rendered in the notebook ({type(e).__name__})") from e
    return area


def _controls(area) -> dict[str, str]:
    """Description -> displayed value of every visible slider and toggle group in ``area``."""
    return area.evaluate("""(root) => {
      const out = {};
      const visible = el => el.offsetParent !== null;
      for (const s of root.querySelectorAll('.widget-slider')) {
        const label = s.querySelector('.widget-label');
        const readout = s.querySelector('.widget-readout');
        if (label && readout && visible(s))
          out[label.textContent.trim()] = readout.textContent.trim();
      }
      for (const d of root.querySelectorAll('.widget-dropdown')) {
        const label = d.querySelector('.widget-label');
        const select = d.querySelector('select');
        if (label && select && visible(d)) {
          const option = select.options[select.selectedIndex];
          out[label.textContent.trim()] = option ? option.textContent.trim() : '';
        }
      }
      for (const t of root.querySelectorAll('.widget-toggle-buttons')) {
        const label = t.querySelector('.widget-label');
        const active = t.querySelector('button.mod-active');
        if (label && active && visible(t))
          out[label.textContent.trim()] = active.textContent.trim();
      }
      return out;
    }""")


def _figure(area) -> str | None:
    """The figure the widget shows, as its image source (PNG data URL), or None."""
    images = area.locator(".widget-output img, .jp-OutputArea-output img")
    return images.first.get_attribute("src") if images.count() else None


_FIGURE_CHANGED = """([el, old]) => {
  const img = el.querySelector('img');
  return !old || (img !== null && img.src !== old);
}"""


def _mismatches(readout: str, expected: list[Shown]) -> list[str]:
    """How the numbers in ``readout`` differ from ``expected`` (empty when all agree)."""
    wrong = []
    for label, value, tol in expected:
        number = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
        found = re.search(rf"{re.escape(label)}\s*[=:]\s*({number})", readout)
        if found is None:
            wrong.append(f"no '{label} = <number>'")
        elif abs(float(found[1]) - value) > tol:
            wrong.append(f"{label} = {found[1]}, expected {value:.6g} within {tol:.2g}")
    return wrong


def _readout(area) -> str:
    readout = area.locator(".vibook-readout")
    return readout.first.inner_text().strip() if readout.count() else ""


def _slider(area, case: WidgetCase):
    sliders = area.locator(".widget-slider:visible")
    if case.slider is None:
        return sliders.first
    label = re.compile(rf"^\s*{re.escape(case.slider)}\s*$")
    slider = sliders.filter(has=area.page.locator(".widget-label", has_text=label))
    assert slider.count() == 1, f"expected one slider described {case.slider!r}"
    return slider


def _widget_errors(page) -> list[str]:
    text = _notebook(page).inner_text()
    errors = [e for e in WIDGET_ERRORS if e in text]
    if shown_as_text := WIDGET_AS_TEXT.search(text):
        errors.append(f"a widget is shown as text ({shown_as_text.group(0)}...)")
    return errors


def _nudge(page, slider, presses: int) -> None:
    """Move a slider with the keyboard: focus its handle and press the arrow keys."""
    handle = slider.locator(".noUi-handle").first
    if presses == 0:  # generic check: one step, away from whichever end it is at
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        presses = -1 if at_max else 1
    handle.focus()
    key = "ArrowRight" if presses > 0 else "ArrowLeft"
    for _ in range(abs(presses)):
        page.keyboard.press(key)


# Resolves to the milliseconds from the next keydown on ``handle`` to a new figure in ``el``.
_TIME_NEXT_REDRAW = """([el, handle, timeoutMs]) => {
  const old = el.querySelector('img');
  const oldSrc = old ? old.src : null;
  let start = null;
  window.__vibookRedraw = new Promise((resolve, reject) => {
    handle.addEventListener('keydown', () => { start = performance.now(); },
                            {once: true, capture: true});
    const done = () => {
      const img = el.querySelector('img');
      if (start === null || !img || (img === old && img.src === oldSrc)) return false;
      observer.disconnect();
      resolve(performance.now() - start);
      return true;
    };
    const observer = new MutationObserver(done);
    observer.observe(el, {subtree: true, childList: true, attributes: true});
    setTimeout(() => { observer.disconnect(); reject(new Error('no new figure')); }, timeoutMs);
  });
}"""


def time_redraws(page, slider, area) -> list[float]:
    """Milliseconds from each arrow key press to the new figure: TIMED_STEPS away, then back."""
    handle = slider.locator(".noUi-handle").first
    now, lo, hi = (float(handle.get_attribute(f"aria-value{k}")) for k in ("now", "min", "max"))
    # Towards the farther end, so that every step moves the slider.
    away, back = ("ArrowLeft", "ArrowRight") if now - lo > hi - now else ("ArrowRight", "ArrowLeft")
    times = []
    for key in [away] * TIMED_STEPS + [back] * TIMED_STEPS:
        page.evaluate(
            _TIME_NEXT_REDRAW, [area.element_handle(), handle.element_handle(), UPDATE_TIMEOUT_MS]
        )
        handle.focus()
        page.keyboard.press(key)
        times.append(page.evaluate("() => window.__vibookRedraw"))
    return times


@pytest.fixture(scope="module")
def redraw_times():
    """Notebook -> timed redraws, written to ``REDRAW_TIMES`` after each test (this run's only)."""
    REDRAW_TIMES.parent.mkdir(parents=True, exist_ok=True)
    REDRAW_TIMES.unlink(missing_ok=True)
    times: dict[str, dict] = {}

    def record(notebook: str, slider: str, ms: list[float]) -> None:
        ordered = sorted(ms)
        median = (ordered[(len(ms) - 1) // 2] + ordered[len(ms) // 2]) / 2
        times[notebook] = {
            "slider": slider,
            "median_ms": round(median, 1),
            "worst_ms": round(max(ms), 1),
            "ms": [round(t, 1) for t in ms],
        }
        REDRAW_TIMES.write_text(json.dumps(times, indent=2) + "\n")

    return record


@pytest.mark.parametrize("case", _cases())
def test_widget_in_jupyterlab(case: WidgetCase, lab, page, screenshot_path, redraw_times):
    """Run the notebook in JupyterLab, move a slider, check the readout and the figure."""
    assert (lab.root_dir / case.notebook).exists(), f"notebooks/{case.notebook} is missing"
    stem = case.notebook.removesuffix(".ipynb")
    try:
        open_and_run_all(page, lab, case.notebook)
        assert not _widget_errors(page), f"widgets failed to render: {_widget_errors(page)}"
        area = _widget_area(page, case)
        area.scroll_into_view_if_needed()
        before = {"controls": _controls(area), "readout": _readout(area), "figure": _figure(area)}
        assert before["figure"] or before["readout"], "the widget shows neither figure nor readout"
        area.screenshot(path=screenshot_path(f"{stem}-before"))

        inputs = () if case.inputs is None else (kernel_value(page, case.notebook, case.inputs),)
        slider = _slider(area, case)
        name = slider.locator(".widget-label").inner_text().strip()
        _nudge(page, slider, case.presses if case.slider else 0)
        if case.step is not None:
            moved = float(before["controls"][name]) + case.presses * case.step
            page.wait_for_function(
                "([el, v]) => Math.abs(parseFloat(el.textContent) - v) < 1e-9",
                arg=[slider.locator(".widget-readout").element_handle(), moved],
                timeout=UPDATE_TIMEOUT_MS,
            )

        if case.expected is not None:
            # The kernel answers each slider step in turn; wait for the last step's readout.
            expected = case.expected(_controls(area), *inputs)
            deadline = time.monotonic() + UPDATE_TIMEOUT_MS / 1000
            while _mismatches(_readout(area), expected) and time.monotonic() < deadline:
                page.wait_for_timeout(250)
        _wait(page, case.notebook, "s => s.status === 'idle'", UPDATE_TIMEOUT_MS)
        page.wait_for_function(
            _FIGURE_CHANGED,
            arg=[area.element_handle(), before["figure"]],
            timeout=UPDATE_TIMEOUT_MS,
        )
        page.wait_for_timeout(300)  # let the new image paint before the screenshot
        after = {"controls": _controls(area), "readout": _readout(area), "figure": _figure(area)}
        area.screenshot(path=screenshot_path(f"{stem}-after"))
        page.screenshot(path=screenshot_path(f"{stem}-page"))

        assert after["controls"][name] != before["controls"][name], "the slider did not move"
        if case.expected is not None:
            wrong = _mismatches(after["readout"], case.expected(after["controls"], *inputs))
            assert not wrong, f"readout {after['readout']!r} after the move: " + "; ".join(wrong)
        if before["figure"] is not None:
            assert after["figure"] and after["figure"] != before["figure"], "figure not redrawn"
        elif before["readout"]:
            assert after["readout"] != before["readout"], "readout did not change"
        assert not _widget_errors(page), f"widgets failed after the move: {_widget_errors(page)}"
        # The live widget, not the still figure its display bundle also carries.
        assert area.locator("img").count() == 1, "the output shows more than the live figure"
        state = _state(page, case.notebook)
        assert not state["errors"], "errors after the move:\n" + "\n".join(state["errors"])

        redraw_times(case.notebook, name, time_redraws(page, slider, area))
        _wait(page, case.notebook, "s => s.status === 'idle'", UPDATE_TIMEOUT_MS)
        assert not _widget_errors(page), f"widgets failed while timed: {_widget_errors(page)}"
    except BaseException:
        page.screenshot(path=screenshot_path(f"{stem}-failure"))
        raise
