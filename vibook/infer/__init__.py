"""Inference runners, one per module, over NumPyro.

- :mod:`vibook.infer.svi`: :func:`run_svi`, stochastic variational inference;
  :mod:`vibook.infer.staged` tells how it runs a fit as one compiled program.
- :mod:`vibook.infer.psis`: PSIS k-hat, how far to trust a variational fit, and
  :func:`loo_svi`, its PSIS-LOO (for ``arviz_stats.compare`` beside NUTS fits).
- :mod:`vibook.infer.nuts`: :func:`run_nuts`, the No-U-Turn Sampler.
- :mod:`vibook.infer.predictive`: :func:`posterior_samples`, and :func:`predictive` (the
  ``posterior_predictive``, ``observed_data`` and ``log_likelihood`` groups).

Every runner takes an explicit random key (no global seed) and returns draws as an ArviZ 1.x
``xarray.DataTree`` of NumPy arrays with ``chain`` and ``draw`` dims (one chain for SVI).
"""

from vibook.fit import SVIDivergenceError, SVIFit
from vibook.infer.nuts import run_nuts
from vibook.infer.predictive import posterior_samples, predictive
from vibook.infer.psis import PSISResult, loo_svi, psis_diagnostic, psis_khat
from vibook.infer.svi import run_svi

__all__ = [
    "PSISResult",
    "SVIDivergenceError",
    "SVIFit",
    "loo_svi",
    "posterior_samples",
    "predictive",
    "psis_diagnostic",
    "psis_khat",
    "run_nuts",
    "run_svi",
]
