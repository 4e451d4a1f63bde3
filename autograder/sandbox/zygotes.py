"""The workers of one grading run: a plain zygote for the questions written with NumPy, and one
that has imported a heavy library (torch) for the questions whose code imports it.

Why two: a child forked from a zygote that has imported torch starts without torch's 1-2 s
import, but the fork itself is slow, because the kernel copies and later tears down torch's
mappings (about 3 GB of address space): measured 55-90 ms per fork-and-exit against 1-8 ms for
a NumPy-only zygote.  Forking the NumPy questions' ~300 tests from the torch zygote would cost
them more than the preload saves the torch questions; so each question's tests fork from the
zygote that has exactly what its code imports.

The heavy zygote is launched as soon as the plain one is up, without waiting for it
(:meth:`Zygotes.start_heavy_in_background`, called by the grader when a selected question's
code imports torch): its 1-2 s import overlaps pytest's collection and the first (NumPy)
questions instead of blocking the first torch test.  That test waits only for what is left of
the start (counted as its start-up time); a launch that failed is started again on first use,
whose failure fails that test like any worker failure (the next test tries again).  No thread
is involved: the process is launched from the grader's main thread (bubblewrap's
--die-with-parent follows the thread that started it) and only the wait for its ready message
is deferred.  Without the background start the heavy zygote starts on first use.

Two zygotes need isolation strategies whose sweep of stray processes cannot reach the other
zygote: by pid namespace (bubblewrap) or none at all (``plain``, development only).  Where the
sweep is by uid (``setpriv`` in the grading container), a zygote ending a test kills every
other process of the worker's uid, the other zygote included; there every question forks from
the plain zygote and the torch questions' children import torch themselves, as before the
split.
"""
from __future__ import annotations

from typing import Any, Callable

from ..config import Limits
from .client import Session, Worker


class Zygotes:
    """The grading run's workers, chosen per question.

    ``make(preload)`` builds a (not yet started) :class:`Worker` that imports ``preload`` once;
    ``preload_of`` maps a question id to the libraries its code imports (absent or empty: the
    plain worker).  :meth:`start`/:meth:`close` manage them all; the attributes a run reports
    (``strategy``, ``ready``, ``limits``) are the plain worker's, ``starts`` and
    ``start_seconds`` are summed over every worker started.
    """

    def __init__(self, make: Callable[[list[str]], Worker], preload_of: dict[str, list[str]]):
        self._make = make
        self._preload_of = {q: tuple(sorted(mods)) for q, mods in preload_of.items() if mods}
        self.plain = make([])
        self._heavy: dict[tuple[str, ...], Worker] = {}
        #: heavy zygotes launched by :meth:`start_heavy_in_background`, not yet waited for
        self._pending: dict[tuple[str, ...], Worker] = {}
        self._gpus: Any = None
        #: what a later-started worker's probe could see (empty when it saw nothing)
        self.late_visible: list[str] = []

    # ------------------------------------------------------------------ choosing
    def preloads(self, qid: str | None) -> tuple[str, ...]:
        return self._preload_of.get(qid or "", ())

    def for_question(self, qid: str | None) -> Worker:
        """The worker whose zygote has what ``qid``'s code imports, started if need be."""
        mods = self.preloads(qid)
        if not mods or not self.can_split:
            return self.plain
        worker = self._heavy.get(mods) or self._settle(mods)
        if worker is None:
            worker = self._make(list(mods))
            if self._gpus is not None:
                worker.gpus = self._gpus
            worker.start()                  # a failure propagates; the next test tries again
            self._heavy[mods] = worker
            self.late_visible += worker.ready.get("probe", {}).get("visible", [])
        return worker

    def _settle(self, mods: tuple[str, ...]) -> Worker | None:
        """Wait for the background start of ``mods``' zygote, if one was begun: the worker when
        it came up, else None (its failure is dropped: :meth:`for_question` starts it again)."""
        worker = self._pending.pop(mods, None)
        if worker is None:
            return None
        try:
            worker.start()                  # waits for the launched zygote to be ready
        except BaseException:               # SandboxFailure is a BaseException
            worker.close()
            return None
        self._heavy[mods] = worker
        self.late_visible += worker.ready.get("probe", {}).get("visible", [])
        return worker

    @property
    def can_split(self) -> bool:
        """Whether a second zygote can live beside the plain one: its strategy's sweep of stray
        processes stays inside its own pid namespace or does not exist (decided once the plain
        one started); never where it kills by uid."""
        return getattr(self.plain.strategy, "sweep", "uid") in ("pidns", "none")

    def session(self, limits: Limits | None = None, label: str = "", cap_s: float | None = None,
                cap_reason: str = "", *, question: str | None = None) -> Session:
        return self.for_question(question).session(limits, label, cap_s, cap_reason)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.plain.start()

    def begin_start(self) -> None:
        """Launch the plain zygote without waiting for it (:meth:`Worker.begin_start`); the
        next :meth:`start` waits for it, trying the weaker strategies if it failed."""
        self.plain.begin_start()

    def start_heavy_in_background(self) -> int:
        """Launch every heavy zygote that a question needs without waiting for it (call after
        :meth:`start`; nothing where the strategy cannot split): its import runs while this
        process goes on.  :meth:`for_question` waits for it on first use.  Returns how many
        were launched."""
        if not self.can_split:
            return 0
        begun = 0
        for mods in sorted(set(self._preload_of.values())):
            if mods in self._heavy or mods in self._pending:
                continue
            worker = self._make(list(mods))
            if self._gpus is not None:
                worker.gpus = self._gpus
            worker.begin_start()            # a failed launch: start() tries again on first use
            self._pending[mods] = worker
            begun += 1
        return begun

    def close(self) -> None:
        for worker in [*self._pending.values(), *self._heavy.values(), self.plain]:
            worker.close()
        self._pending.clear()

    @property
    def workers(self) -> list[Worker]:
        return [self.plain, *self._heavy.values(), *self._pending.values()]

    # ------------------------------------------------------------------ what a run reports
    @property
    def strategy(self) -> Any:
        return self.plain.strategy

    @property
    def fallbacks(self) -> list[str]:
        return self.plain.fallbacks

    @property
    def uid(self) -> int:
        """The uid every zygote of the run drops to (where its strategy drops one)."""
        return self.plain.uid

    @property
    def ready(self) -> dict[str, Any]:
        return self.plain.ready

    @property
    def limits(self) -> Limits:
        return self.plain.limits

    @property
    def gpus(self) -> Any:
        """The GPU selection every worker reports its device problem from (``None``: none)."""
        return self._gpus

    @gpus.setter
    def gpus(self, value: Any) -> None:
        self._gpus = value
        for worker in self.workers:
            worker.gpus = value

    @property
    def starts(self) -> int:
        return sum(w.starts for w in self.workers)

    @property
    def start_seconds(self) -> list[float]:
        return [s for w in self.workers for s in w.start_seconds]
