"""The Planner page's long computations made stoppable, and what its stored results were computed with
(pure: no streamlit). A plan (``lewm.planning.plan_recorded``) calls its goal cost once per solver iteration
and the goal-cost landscape renders one state at a time, so wrapping the cost (:class:`StoppableCost`) or
the env (:class:`StoppableEnv`) ends them within one iteration / one render of ``stop.set()`` without any
change to lewm (the MPC episode's WatchedEnv does the same with env steps)."""
from __future__ import annotations

import threading
from dataclasses import fields


class Stopped(Exception):
    """Raised in the worker thread once its stop event is set (Stop pressed, the page left, a setting changed)."""


class StoppableCost:
    """A goal cost that raises :class:`Stopped` when called after ``stop`` is set; counts its calls (one per
    solver iteration: the progress note says where the plan stopped). Everything else is the wrapped cost's."""

    def __init__(self, cost, stop: threading.Event):
        self._cost, self.stop, self.calls = cost, stop, 0

    def __call__(self, *a, **k):
        if self.stop.is_set():
            raise Stopped(f"stopped after {self.calls} cost evaluations")
        self.calls += 1
        return self._cost(*a, **k)

    def __getattr__(self, name):
        return getattr(self._cost, name)


class StoppableEnv:
    """The session's env for a grid view: ``render_state`` raises :class:`Stopped` once ``stop`` is set."""

    def __init__(self, env, stop: threading.Event):
        self._env, self.stop = env, stop

    def render_state(self, *a, **k):
        if self.stop.is_set():
            raise Stopped("stopped while rendering the grid")
        return self._env.render_state(*a, **k)

    def __getattr__(self, name):
        return getattr(self._env, name)


def settings_diff(old: dict, new: dict) -> list[str]:
    """What changed between two episode settings dicts (``{"planner": PlannerConfig, "seed": .., "budget": ..}``),
    as "name old (now new)" items; a PlannerConfig is compared field by field."""
    out = []
    for k in new:
        a, b = old.get(k), new[k]
        if hasattr(b, "__dataclass_fields__") and type(a) is type(b):
            out += [f"{f.name} {getattr(a, f.name)} (now {getattr(b, f.name)})" for f in fields(b)
                    if getattr(a, f.name) != getattr(b, f.name)]
        elif a != b:
            out.append(f"{k} {a} (now {b})")
    return out


class StopMailbox:
    """What an interrupted page run leaves for the next one: its stop notes and flags (the landscape shown or
    not), kept in a plain object created before the work starts (``st.session_state.setdefault``) and changed in
    place. Was: written to st.session_state in the ``finally`` of the interrupted run, where Streamlit 1.67
    raises StopException again at any st.session_state access, so the note was lost and the landscape's
    shown-flag stayed set (its Stop restarted it). With fast reruns the next run starts before the interrupted
    one has unwound: :meth:`settle` waits (a few seconds at most) for the jobs :meth:`begin` marked running."""

    def __init__(self):
        self.notes: dict[str, str] = {}
        self.flags: dict[str, bool] = {}
        self._running: dict[str, threading.Event] = {}

    def begin(self, job: str) -> None:
        """Before ``job``'s work starts (then :meth:`end` it in a ``finally``)."""
        self._running[job] = threading.Event()

    def end(self, job: str, note: str | None = None, **flags) -> None:
        """``job`` is over (finished, failed or interrupted): keep ``note`` for the next run, set ``flags``."""
        if note is not None:
            self.notes[job] = note
        self.flags.update(flags)
        done = self._running.pop(job, None)
        if done is not None:
            done.set()

    def settle(self, timeout: float = 3.0) -> None:
        """Wait for the jobs an interrupted run was still unwinding (none: returns at once)."""
        import time
        t_end = time.monotonic() + timeout
        for job, done in list(self._running.items()):
            if not done.wait(max(0.0, t_end - time.monotonic())):
                self._running.pop(job, None)  # never ended (its run died): wait for it only once

    def pop_note(self, job: str) -> str | None:
        return self.notes.pop(job, None)
