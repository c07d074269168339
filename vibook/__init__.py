"""vibook: learn and try variational inference, on NumPyro and ArviZ.

The runners live in :mod:`vibook.infer`, the models in :mod:`vibook.models`.
"""

from vibook.compile_cache import _enable_in_kernel, enable_compile_cache
from vibook.infer import (
    SVIDivergenceError,
    SVIFit,
    posterior_samples,
    predictive,
    run_nuts,
    run_svi,
)
from vibook.io import load, save

__version__ = "0.1.0"

# In a notebook, compiled programs are kept on disk so the next run of it starts faster.
_enable_in_kernel()

__all__ = [
    "SVIDivergenceError",
    "SVIFit",
    "enable_compile_cache",
    "load",
    "posterior_samples",
    "predictive",
    "run_nuts",
    "run_svi",
    "save",
]
