"""vibook: learn and try variational inference, on NumPyro and ArviZ.

The runners live in :mod:`vibook.infer`, the models in :mod:`vibook.models`; the README's
package section lists every module, floor by floor. Importing vibook changes no global
state: call :func:`enable_compile_cache` to keep compiled programs on disk.
"""

from vibook.compile_cache import enable_compile_cache
from vibook.fit import SVIDivergenceError, SVIFit
from vibook.infer import posterior_samples, predictive, run_nuts, run_svi
from vibook.io import load, save

__version__ = "0.1.0"

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
