"""The examples in the docstrings run and print what they show (doctest)."""

import doctest
import importlib
import pkgutil

import matplotlib


matplotlib.use("Agg")

import equinox as eqx
import jax
import matplotlib.pyplot as plt
import numpy as np
import pytest

import fluxjax


MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(fluxjax.__path__, prefix="fluxjax.")
    if not info.name.rsplit(".", 1)[-1].startswith("_")
)
_attempted: dict[str, int] = {}


def _globs():
    public = {k: v for k, v in vars(fluxjax).items() if not k.startswith("_")}
    return {"fj": fluxjax, "eqx": eqx, "jax": jax, "jnp": jax.numpy, "np": np, **public}


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    try:  # the examples print JAX's default float32 values
        failed, attempted = doctest.testmod(
            module,
            extraglobs=_globs(),
            optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
            report=True,
        )
    finally:
        plt.close("all")
    _attempted[name] = attempted
    assert failed == 0, f"{failed} of {attempted} examples in {name} failed"


def test_some_examples_ran():
    for name in MODULES:
        if name not in _attempted:
            test_docstring_examples_run(name)
    assert sum(_attempted.values()) > 0
    for name in ("fluxjax.network", "fluxjax.simulate", "fluxjax.info.exact"):
        assert _attempted[name] > 0, name
