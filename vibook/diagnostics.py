"""Diagnostics: is this fit to be trusted.

For variational fits, Pareto-smoothed importance sampling k-hat (Yao et al. 2018); for MCMC, R-hat,
effective sample sizes, divergences and E-BFMI, in plain words; and a side-by-side comparison of
posteriors from different methods.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import arviz_stats as azs
import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import wasserstein_distance

from vibook._checks import check_positive, check_var_names, select_coords
from vibook.fit import KHAT_GOOD, KHAT_OK, as_datatree, khat_reading
from vibook.infer.psis import PSISResult, psis_diagnostic, psis_khat

__all__ = [
    "KHAT_GOOD",
    "KHAT_OK",
    "NUTSDiagnostics",
    "PSISResult",
    "compare_posteriors",
    "khat_reading",
    "nuts_diagnostics",
    "psis_diagnostic",
    "psis_khat",
    "select_scalar",
]

_SAMPLE_DIMS = ("chain", "draw")


def _scalar_marginals(posterior: xr.Dataset, var_name: str) -> dict[str, np.ndarray]:
    """Draws of each scalar component of ``var_name``, keyed ``"theta[A]"`` as ArviZ labels them."""
    da = posterior[var_name]
    missing = [d for d in _SAMPLE_DIMS if d not in da.dims]
    if missing:
        raise ValueError(f"variable {var_name!r} has no {missing[0]!r} dimension")
    da = da.transpose(*_SAMPLE_DIMS, ...)
    extra = da.dims[2:]
    values = np.asarray(da.values, dtype=float).reshape(da.shape[0] * da.shape[1], -1)
    if not extra:
        return {var_name: values[:, 0]}
    labels = itertools.product(*(da[d].values.tolist() for d in extra))
    return {
        f"{var_name}[{', '.join(map(str, label))}]": values[:, i] for i, label in enumerate(labels)
    }


def compare_posteriors(
    fits: Mapping[str, Any],
    *,
    var_names: Sequence[str] | None = None,
    reference: str | None = None,
    ci_prob: float = 0.9,
) -> pd.DataFrame:
    """Compare the marginals of two or more posteriors, variable by variable, with a reference.

    Each scalar component's marginal under each method (NUTS, mean-field and full-rank SVI, ...) is
    summarised and compared with the reference's by the 1-D Wasserstein distance: the area between
    the two empirical CDFs (Villani 2009).

    Parameters
    ----------
    fits : mapping of str to DataTree or SVIFit
        Two or more posteriors, by method name: :func:`vibook.run_nuts` results or
        :class:`vibook.SVIFit` objects, each with a ``posterior`` group with ``chain`` and
        ``draw`` dimensions.
    var_names : sequence of str, optional
        Variables to compare; by default those in every posterior, in the order of the first.
    reference : str, optional
        The key of ``fits`` to measure distances from; the first one by default.
    ci_prob : float
        Probability mass of the equal-tailed interval, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        One row per (``variable``, ``method``), with columns ``variable`` (a scalar label such as
        ``"theta[0]"``), ``method``, ``mean``, ``sd``, ``ci_low``, ``ci_high``, ``wasserstein`` (to
        the reference; 0 for the reference itself) and ``wasserstein_sd`` (the same in units of the
        reference's sd, so that variables on different scales can be averaged).

    References
    ----------
    Villani (2009), *Optimal Transport: Old and New*, Springer (the 1-D Wasserstein distance as the
    L1 distance between CDFs).
    Yao, Vehtari, Simpson and Gelman (2018), "Yes, but did it work?: Evaluating variational
    inference", ICML (comparing VI marginals with a long MCMC run).
    """
    if not isinstance(fits, Mapping):
        raise TypeError(
            f"fits must be a dict of method name to DataTree or SVIFit; got {type(fits).__name__}"
        )
    if len(fits) < 2:
        raise ValueError(f"fits must hold at least two posteriors to compare; got {len(fits)}")
    trees = {str(k): as_datatree(v, f"fits[{k!r}]") for k, v in fits.items()}
    names = list(trees)
    if reference is None:
        reference = names[0]
    elif not isinstance(reference, str) or reference not in trees:
        raise ValueError(f"reference must be one of the keys of fits {names}; got {reference!r}")
    ci_prob = check_positive(ci_prob, "ci_prob")
    if not ci_prob < 1:
        raise ValueError(f"ci_prob must be in (0, 1); got {ci_prob}")
    posteriors = {k: t["posterior"].to_dataset() for k, t in trees.items()}
    common = [v for v in posteriors[names[0]].data_vars if all(v in p for p in posteriors.values())]
    if not common:
        raise ValueError("the posteriors in fits have no variable in common")
    var_names = check_var_names(var_names, common) or common

    tail = (1 - ci_prob) / 2
    rows = []
    for var in var_names:
        marginals = {k: _scalar_marginals(p, var) for k, p in posteriors.items()}
        shapes = {k: len(m) for k, m in marginals.items()}
        if len(set(shapes.values())) > 1:
            raise ValueError(f"variable {var!r} has different sizes across fits: {shapes}")
        for label, ref_draws in marginals[reference].items():
            ref_sd = float(np.std(ref_draws))
            for method in names:
                draws = marginals[method][label]
                w1 = 0.0 if method == reference else float(wasserstein_distance(draws, ref_draws))
                low, high = np.quantile(draws, [tail, 1 - tail])
                rows.append(
                    {
                        "variable": label,
                        "method": method,
                        "mean": float(np.mean(draws)),
                        "sd": float(np.std(draws)),
                        "ci_low": float(low),
                        "ci_high": float(high),
                        "wasserstein": w1,
                        "wasserstein_sd": w1 / ref_sd if ref_sd > 0 else np.nan,
                    }
                )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class NUTSDiagnostics:
    """A readable verdict on a NUTS run, from :func:`nuts_diagnostics`.

    Attributes
    ----------
    n_divergent, n_draws : int
        Divergent transitions, and all draws, after warm-up over all chains.
    n_max_tree_depth : int
        Draws whose trajectory was cut off at the maximum tree depth (0 if not recorded).
    bfmi : ndarray of shape (n_chains,)
        E-BFMI of each chain.
    table : pandas.DataFrame
        One row per scalar parameter (labelled like ``"theta[0]"``) with ``r_hat``, ``ess_bulk``
        and ``ess_tail``.
    problems : tuple of str
        One sentence per failed check, saying what is wrong and what to try; empty if all passed.
    rhat_max, ess_min, bfmi_min : float
        The thresholds that were applied.
    """

    n_divergent: int
    n_draws: int
    n_max_tree_depth: int
    bfmi: np.ndarray
    table: pd.DataFrame
    problems: tuple[str, ...]
    rhat_max: float
    ess_min: float
    bfmi_min: float

    @property
    def ok(self) -> bool:
        """True when no check failed."""
        return not self.problems

    @property
    def divergent_fraction(self) -> float:
        """Fraction of draws after warm-up that were divergent."""
        return self.n_divergent / self.n_draws

    def report(self) -> str:
        """The verdict as a few lines of plain text."""
        worst_rhat = self.table["r_hat"].max()
        lines = [
            f"divergences: {self.n_divergent} of {self.n_draws} draws "
            f"({self.divergent_fraction:.1%})",
            f"R-hat: max {worst_rhat:.3f} (want <= {self.rhat_max})",
            f"ESS: min bulk {self.table['ess_bulk'].min():.0f}, "
            f"min tail {self.table['ess_tail'].min():.0f} (want >= {self.ess_min:.0f})",
            f"E-BFMI: min {np.min(self.bfmi):.2f} over chains (want >= {self.bfmi_min})",
        ]
        if self.problems:
            lines.append("PROBLEMS:")
            lines.extend(f"- {p}" for p in self.problems)
        else:
            lines.append("All checks passed.")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


def _name_worst(series: pd.Series, bad: pd.Series, largest: bool) -> str:
    """'tau, theta[0] and 2 more (worst: tau, 1.05)' for the parameters flagged in ``bad``."""
    flagged = series[bad].sort_values(ascending=not largest)
    shown = ", ".join(flagged.index[:3])
    more = f" and {len(flagged) - 3} more" if len(flagged) > 3 else ""
    return f"{shown}{more} (worst: {flagged.index[0]}, {flagged.iloc[0]:.3g})"


def nuts_diagnostics(
    idata,
    *,
    var_names: Sequence[str] | None = None,
    rhat_max: float = 1.01,
    ess_min: float | None = None,
    bfmi_min: float = 0.3,
) -> NUTSDiagnostics:
    """Check a NUTS run for the known ways it fails, and say in plain words what went wrong.

    Four checks (Vehtari et al. 2021; Betancourt 2017): no divergent transitions (the sampler met
    curvature too sharp for its step size and may miss part of the posterior); rank-normalised R-hat
    at most ``rhat_max`` (the chains agree); bulk and tail effective sample sizes at least
    ``ess_min`` (means and intervals have small Monte Carlo error); and E-BFMI at least ``bfmi_min``
    in every chain (momentum resampling moves through the energy levels fast enough). Draws cut off
    at the maximum tree depth are reported too: a sign of inefficiency, not bias.

    Parameters
    ----------
    idata : xarray.DataTree
        A :func:`vibook.run_nuts` result: ``posterior`` and ``sample_stats`` (with ``diverging``
        and ``energy``) groups, with ``chain`` and ``draw`` dimensions.
    var_names : sequence of str, optional
        Parameters for R-hat and ESS; all posterior variables by default.
    rhat_max, ess_min, bfmi_min : float
        Thresholds: the largest acceptable R-hat (1.01, as Vehtari et al. 2021 recommend), the
        smallest acceptable bulk and tail ESS (optional; by default 100 per chain) and E-BFMI (0.3,
        as Betancourt 2016 suggests).

    Returns
    -------
    NUTSDiagnostics
        The numbers and one plain-language sentence per failed check; ``print`` it.

    References
    ----------
    Vehtari, Gelman, Simpson, Carpenter and Burkner (2021), "Rank-normalization, folding, and
    localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis 16(2).
    Betancourt (2016), "Diagnosing suboptimal cotangent disintegrations in Hamiltonian Monte
    Carlo", arXiv:1604.00695.
    Betancourt (2017), "A conceptual introduction to Hamiltonian Monte Carlo", arXiv:1701.02434.
    """
    idata = as_datatree(idata, "idata")
    if "sample_stats" not in idata.children:
        raise ValueError(
            "idata must have a 'sample_stats' group (divergences, energy): use a run_nuts "
            "result, not an SVI fit"
        )
    stats = idata["sample_stats"]
    for needed in ("diverging", "energy"):
        if needed not in stats:
            raise ValueError(f"idata's sample_stats group has no {needed!r} variable")
    rhat_max = check_positive(rhat_max, "rhat_max")
    bfmi_min = check_positive(bfmi_min, "bfmi_min")
    n_chains = idata["posterior"].sizes["chain"]
    ess_min = 100.0 * n_chains if ess_min is None else check_positive(ess_min, "ess_min")
    var_names = check_var_names(var_names, idata["posterior"].data_vars)
    table = azs.summary(idata, var_names=var_names, kind="diagnostics", round_to="none")
    table = table[["r_hat", "ess_bulk", "ess_tail"]]
    diverging = np.asarray(stats["diverging"].values, dtype=bool)
    n_divergent, n_draws = int(diverging.sum()), int(diverging.size)
    n_deep = (
        int(np.asarray(stats["reached_max_tree_depth"].values).sum())
        if "reached_max_tree_depth" in stats
        else 0
    )
    bfmi = np.atleast_1d(np.asarray(azs.bfmi(stats["energy"]).values, dtype=float))

    problems = []
    if n_divergent:
        problems.append(
            f"{n_divergent} of {n_draws} transitions ({n_divergent / n_draws:.1%}) diverged: "
            "the sampler met curvature its step size could not follow (in a hierarchical "
            "model, usually the neck of a funnel), so the draws may miss part of the "
            "posterior. Try a non-centred parameterisation, or raise target_accept_prob "
            "(0.9, 0.95)."
        )
    bad = table["r_hat"] > rhat_max
    if bad.any():
        problems.append(
            f"R-hat above {rhat_max} for {_name_worst(table['r_hat'], bad, True)}: the chains "
            "disagree, so they have not converged to one distribution. Run longer or "
            "reparameterise; do not trust these draws yet."
        )
    for kind, what in (("bulk", "means and medians"), ("tail", "intervals and quantiles")):
        col = table[f"ess_{kind}"]
        bad = col < ess_min
        if bad.any():
            problems.append(
                f"{kind.capitalize()} ESS below {ess_min:.0f} for "
                f"{_name_worst(col, bad, False)}: the draws are strongly autocorrelated, so "
                f"{what} carry large Monte Carlo error. Run more draws or reparameterise."
            )
    low = np.flatnonzero(bfmi < bfmi_min)
    if low.size:
        problems.append(
            f"E-BFMI below {bfmi_min} in chain(s) {', '.join(map(str, low))} (lowest "
            f"{bfmi.min():.2f}): each momentum draw moves the sampler only a little in energy, "
            "so it explores heavy tails or funnels slowly. Reparameterise (for example "
            "non-centre the group effects)."
        )
    if n_deep:
        problems.append(
            f"{n_deep} of {n_draws} draws stopped at the maximum tree depth: trajectories were "
            "cut short, which costs efficiency (not correctness). A dense mass matrix "
            "(dense_mass=True) or a better parameterisation usually helps."
        )
    return NUTSDiagnostics(
        n_divergent=n_divergent,
        n_draws=n_draws,
        n_max_tree_depth=n_deep,
        bfmi=bfmi,
        table=table,
        problems=tuple(problems),
        rhat_max=rhat_max,
        ess_min=ess_min,
        bfmi_min=bfmi_min,
    )


def select_scalar(
    posterior: xr.Dataset, var_name: str, coords: Mapping | None, *, names=("var_name", "coords")
) -> xr.DataArray:
    """``posterior[var_name]`` selected down to dims (chain, draw).

    ``names`` are the caller's names for ``var_name`` and ``coords``, used in error messages.
    """
    if not isinstance(posterior, xr.Dataset):
        raise TypeError(f"posterior must be an xarray Dataset; got {type(posterior).__name__}")
    if not posterior.data_vars:
        raise ValueError("posterior has no variables")
    if not isinstance(var_name, str):
        raise TypeError(f"{names[0]} must be a variable name (str); got {type(var_name).__name__}")
    da = posterior[check_var_names(var_name, posterior, names[0])[0]]
    da = select_coords(da, coords, names[1])
    extra = [d for d in da.dims if d not in _SAMPLE_DIMS]
    if extra:
        raise ValueError(
            f"{var_name!r} has dimension(s) {extra} left: pass {names[1]} selecting one value "
            f"of each, for example {names[1]}={{{extra[0]!r}: 0}}"
        )
    return da
