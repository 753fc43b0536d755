"""LeWM Lab: LeWorldModel (JEPA world model from pixels, SIGReg-regularised) as a library.

The names below load on first use (PEP 562), so that ``python -m lewm`` can install its Ctrl-C handler
before numpy is imported (a Ctrl-C in that first ~0.3 s printed Python's own traceback).
"""
__all__ = ["PRESETS", "LeWMConfig", "ModelConfig", "SIGRegConfig", "TrainConfig", "get_preset"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name in __all__:
        from . import config
        return getattr(config, name)
    raise AttributeError(f"module 'lewm' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
