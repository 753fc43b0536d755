"""Environment names, in one place: our canonical names and every spelling the field uses for them.

The field writes the same environment many ways: ``tworoom`` (LeWM's configs), ``TwoRoom``
(class names, stable-worldmodel's ``swm/TwoRoom-v1``-style ids), ``two-room`` (prose), ``PushT``,
``push_t``, ``pusht``, ``Reacher``... :func:`env_key` maps any of them to our canonical name
(``two_room``, ``pusht``, ``reacher``, ...): case, separators (``-``, ``_``, space, ``.``), a
namespace (``swm/``) and a version suffix (``-v1``) do not matter. Every command, file attribute
and checkpoint config goes through it, so a name is compared and stored one way only.

A leaf module (no imports from :mod:`lewm`): the config, validation and data layers use it
without reaching the environments.
"""
from __future__ import annotations

import re

CANONICAL_ENVS = ("two_room", "pusht", "reacher", "reacher_no_target", "gym_pusht")
"""Every environment name this library knows (``gym_pusht`` needs the optional ``gym-pusht``)."""

_SQUASHED = {re.sub(r"[^a-z0-9]", "", n): n for n in CANONICAL_ENVS}  # 'tworoom' -> 'two_room', ...
_SQUASHED.update({"dmcreacher": "reacher", "reacherhard": "reacher"})  # dm_control's task names


def env_key(name: str) -> str:
    """The canonical name of environment ``name`` ('TwoRoom', 'two-room', 'swm/PushT-v1' ->
    'two_room', 'pusht'). A name we do not know comes back lower-case with '_' separators, so that
    two spellings of an unknown name still compare equal and an error can quote it.

    Raises TypeError for a non-string (None was stored as the environment 'none', 5 as '5', bytes as
    "b'two_room'") and ValueError for a name with no letter or digit ('///', '-v1'), which came back ''
    (the "no environment" of a config) without a word."""
    if not isinstance(name, str):
        hint = " (decode it first: name.decode())" if isinstance(name, (bytes, bytearray)) else ""
        raise TypeError(f"an environment name must be a string like 'two_room' or 'pusht', got {name!r:.60} "
                        f"({type(name).__name__}){hint}")
    s = name.strip().lower()
    if "/" in s:
        namespace, _, rest = s.rpartition("/")
        if re.sub(r"[^a-z0-9]", "", namespace) == "gympusht":  # gym_pusht/PushT-v0: the gym-pusht package
            return "gym_pusht"
        s = rest
    s = re.sub(r"-v\d+$", "", s)  # a gym version suffix
    squashed = re.sub(r"[^a-z0-9]", "", s)
    if not squashed:
        raise ValueError(f"environment name {name!r:.60} has no letter or digit; expected a name like "
                         f"{', '.join(CANONICAL_ENVS[:3])}")
    if squashed in _SQUASHED:
        return _SQUASHED[squashed]
    return re.sub(r"[\s.-]+", "_", s)


def spellings_help(installed=None) -> str:
    """One line for ``--help``: the canonical names (``installed``: only those, the others marked as
    optional) and that other spellings are accepted."""
    names = [n for n in CANONICAL_ENVS if installed is None or n in installed]
    missing = [n for n in CANONICAL_ENVS if installed is not None and n not in installed]
    extra = f"; {', '.join(missing)} with requirements-field.txt" if missing else ""
    return (f"{', '.join(names)}{extra} (the field's spellings are accepted too: tworoom, "
            f"TwoRoom, two-room, PushT, push-t, Reacher, ...)")
