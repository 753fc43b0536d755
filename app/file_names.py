"""The file name a collection is saved under, from what the user typed (round 21, M1). Pure logic."""
from __future__ import annotations

import re

from lewm.runs import slugify

KEPT = "file names keep only ASCII letters, digits, '.', - and _"


def collect_name(typed: str, default_stem: str) -> tuple[str | None, str | None]:
    """(file name, note) for the typed name; a blank name is the default (the placeholder's); a name that
    slugify changed gets a note naming the file used; a name with nothing to keep gives (None, the reason)."""
    t = (typed or "").strip()
    if not t:
        return slugify(default_stem, 60) + ".h5", None
    stem = t[:-3] if t.lower().endswith(".h5") else t
    if not re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-."):  # slugify would save it as 'run.h5'
        return None, (f"File name '{t}' has no ASCII letter or digit to keep ({KEPT}): type another name, or leave "
                      f"it empty for {slugify(default_stem, 60)}.h5.")
    name = slugify(stem, 60) + ".h5"
    return name, (None if name in (t, t + ".h5") else f"File name '{t}' is saved as {name} ({KEPT}).")
