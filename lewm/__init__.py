"""LeWM Lab: LeWorldModel (JEPA world model from pixels, SIGReg-regularised) as a library."""
from .config import PRESETS, LeWMConfig, ModelConfig, SIGRegConfig, TrainConfig, get_preset

__all__ = ["PRESETS", "LeWMConfig", "ModelConfig", "SIGRegConfig", "TrainConfig", "get_preset"]
__version__ = "0.1.0"
