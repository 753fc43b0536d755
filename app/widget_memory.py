"""The pages' settings survive a visit to another page (round 21, M2).

Streamlit drops the state of every keyed widget that a run does not draw, so going to another page and back
reset each page's inputs to their defaults without a word. lab.py calls :func:`remember` before every page:
the values of the keyed *input* widgets the last run drew (not buttons, uploaders or charts' selections) are
copied into a plain dict, and when the user comes back to the page that drew them, the values Streamlit dropped
are put back into st.session_state before the page creates its widgets (the documented pattern; a widget's own
reset - a page deleting its keys before its widgets exist, e.g. the Planner on a new checkpoint - still wins, as
it runs after this).

Pure logic (no Streamlit import): lab.py reads the widget types from Streamlit and writes the values back.
"""
from __future__ import annotations

from collections.abc import Mapping

MEMORY_KEY = "_lab_widget_memory"
KEPT_TYPES = frozenset({"bool_value", "int_value", "double_value", "string_value", "int_array_value",
                        "double_array_value", "string_array_value"})
"""Value types of input widgets (checkbox, number_input, slider, selectbox, radio, text_input, multiselect...);
buttons ("trigger_value"), file uploaders and chat inputs are never set from st.session_state."""


def new_memory() -> dict:
    """The plain dict kept in st.session_state[MEMORY_KEY]: the page of the last run and the kept values."""
    return {"page": None, "values": {}}


def is_kept(value_type: str | None, value) -> bool:
    """A keyed widget whose value is kept: an input widget's plain value (a chart's or a table's selection is a
    mapping, and its widget type shares "string_value")."""
    return value_type in KEPT_TYPES and not isinstance(value, Mapping)


def remember(memory: dict, inputs: Mapping[str, object], keys, page) -> dict[str, object]:
    """Before ``page`` runs: record ``inputs`` (the kept widgets' values now in st.session_state, drawn by the
    last run, on ``memory["page"]``) and return the values to put back: those of ``page``'s widgets that are
    no longer among ``keys`` (all st.session_state keys), only when the user comes back to ``page`` from
    another page (on the same page a missing key was deleted by the page itself, to reset it)."""
    last = memory.get("page")
    values = memory.setdefault("values", {})
    for k, v in inputs.items():
        values[k] = (last, v)
    memory["page"] = page
    if last == page:
        return {}
    keys = set(keys)
    return {k: v for k, (p, v) in values.items() if p == page and k not in keys}


def note(state, key: str) -> None:
    """``on_change`` of a widget inside a fragment (round 22, N2): a fragment re-runs without lab.py, and
    Streamlit drops the page's widget values before the next page's run starts, so the fragment's change
    would never reach :func:`remember`; record it now, under the page the memory last saw."""
    memory = state.get(MEMORY_KEY) if hasattr(state, "get") else None
    if isinstance(memory, dict) and key in state and not isinstance(value := state[key], Mapping):
        memory.setdefault("values", {})[key] = (memory.get("page"), value)


def misfit(restored: Mapping[str, object], bounds: Mapping[str, object]) -> tuple[str, object, str] | None:
    """A page refused a value this run put back (Streamlit's "value above max_value / below min_value", whose
    ``bounds`` are ``{"value": v, "max_value": m}`` or ``{"value": v, "min_value": m}``): the restored key
    holding ``v``, the bound to use instead, and the one line that says so; None when no restored value is
    ``v`` (then the page's own value is wrong: not the memory's business)."""
    v = bounds.get("value")
    for side, word in (("max_value", "more"), ("min_value", "less")):
        if side in bounds:
            bound = bounds[side]
            break
    else:
        return None
    for k, kept in restored.items():
        if kept == v and not isinstance(kept, bool):
            return k, bound, (f"Your earlier setting {k} = {v} is {word} than this page now allows ({bound}): "
                              f"using {bound}.")
    return None
