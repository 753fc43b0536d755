"""LeWM Lab: LeWorldModel (JEPA world model from pixels, SIGReg-regularised) as a library.

The names below load on first use (PEP 562), so that ``python -m lewm`` can install its Ctrl-C handler
before numpy is imported (a Ctrl-C in that first ~0.3 s printed Python's own traceback). The public
submodules load on first use too: ``import lewm; lewm.model`` is ``import lewm.model`` (was an AttributeError).
"""
__all__ = ["PRESETS", "LeWMConfig", "ModelConfig", "SIGRegConfig", "TrainConfig", "get_preset"]
__version__ = "0.1.0"


def _submodule(name: str) -> bool:
    """Whether ``lewm.<name>`` is a public submodule or subpackage (a file beside this one; no import)."""
    import os
    if name.startswith("_") or not name.isidentifier():
        return False
    here = os.path.dirname(__file__)
    return os.path.isfile(os.path.join(here, name + ".py")) or os.path.isfile(os.path.join(here, name, "__init__.py"))


def __getattr__(name: str):
    if name in __all__:
        from . import config
        return getattr(config, name)
    if _submodule(name):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    import difflib
    near = difflib.get_close_matches(name, __all__, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    raise AttributeError(f"module 'lewm' has no attribute {name!r}{hint}; its names are {', '.join(__all__)} "
                         f"and its submodules (lewm.model, lewm.train, ...)")


def __dir__():
    return sorted(list(globals()) + __all__)
