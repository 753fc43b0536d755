"""Environments with their own renderers (DESIGN §4): ``make(name, image_size=64, **kw)``.

Every env follows :class:`lewm.envs.base.Env` (reset/step/render/render_state/get_state/
set_state/set_goal/is_success/success_distance) and exposes its true physical state.
"""
from __future__ import annotations

import importlib.util

from ..env_names import env_key
from .base import Env
from .gym_pusht import INSTALL_HINT, GymPushT
from .pusht import PushT
from .reacher import Reacher, ReacherNoTarget
from .spaces import Box
from .two_room import TwoRoom

ENVS: dict[str, type[Env]] = {"two_room": TwoRoom, "pusht": PushT, "reacher": Reacher,
                              "reacher_no_target": ReacherNoTarget}
# Backends that need optional packages (requirements-field.txt): name -> (class, the module it needs)
OPTIONAL_ENVS: dict[str, tuple[type[Env], str]] = {"gym_pusht": (GymPushT, "gym_pusht")}
for _name, (_cls, _module) in OPTIONAL_ENVS.items():
    if importlib.util.find_spec(_module) is not None:
        ENVS[_name] = _cls


def list_envs() -> list[str]:
    """Registered environment names (optional backends only when their package is installed)."""
    return list(ENVS)


def missing_packages(name) -> str:
    """``" (pip install ...)"`` when ``name`` is an optional backend whose packages are not installed, else ``""``:
    for the notes of a command that goes on without its simulator (the report said only "no renderer" or
    "cannot collect episodes", and dropped its goal-cost landscape without a word)."""
    try:
        key = env_key(name)
    except (TypeError, ValueError):
        return ""
    return f" ({INSTALL_HINT})" if key in OPTIONAL_ENVS and key not in ENVS else ""


def make(name: str, image_size: int = 64, **kw) -> Env:
    """Build a registered environment rendering ``image_size``² RGB frames. ``name``: a canonical
    name or any spelling :func:`lewm.env_names.env_key` knows ('TwoRoom', 'two-room', 'PushT', ...).

    Extra keywords go to the env class (e.g. ``max_episode_steps``, ``seed``).
    """
    key = env_key(name)  # the field's spellings: 'TwoRoom', 'two-room', 'PushT', ... (lewm.env_names)
    if key in OPTIONAL_ENVS and key not in ENVS:
        raise ValueError(f"{INSTALL_HINT} (environment {name!r})")
    if key not in ENVS:
        raise ValueError(f"unknown environment {name!r}; valid names: {', '.join(ENVS)}")
    return ENVS[key](image_size=image_size, **kw)


__all__ = ["ENVS", "env_key", "OPTIONAL_ENVS", "Box", "Env", "GymPushT", "PushT", "Reacher", "ReacherNoTarget", "TwoRoom", "list_envs", "make", "missing_packages"]
