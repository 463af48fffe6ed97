"""evoprune: multi-objective evolutionary compression of neural networks, from Python.

Two faces:

* the methods, as the ``evoprune`` command line runs them: :func:`run`, :func:`resume` and
  :func:`export` take the same TOML configs and run folders, and return the front as rows
  (``result["front"]``) and NumPy arrays (``result["arrays"]``);
* the engine, for your own evaluation loop: :class:`Engine` hands out candidates with
  :meth:`Engine.ask` and takes their objectives back with :meth:`Engine.tell` in any order;
  :func:`minimize` runs it on a pymoo-style problem.

Rust does the work with the GIL released. Candidates of a method run, or of your own
evaluation function, can be evaluated on a Ray cluster: see :mod:`evoprune.ray`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

from . import _native
from ._native import EvopruneError, Interrupted

__version__ = _native.__version__
__all__ = [
    "Bits",
    "Real",
    "Int",
    "Mixed",
    "Engine",
    "minimize",
    "Result",
    "run",
    "resume",
    "export",
    "EvopruneError",
    "Interrupted",
]


# ---------------------------------------------------------------------------------------------
# genomes


@dataclass(frozen=True)
class Bits:
    """``n`` binary genes (a pruning mask); ``X`` rows are ``bool``."""

    n: int

    def _spec(self) -> Any:
        return {"bits": int(self.n)}


@dataclass(frozen=True)
class Real:
    """Real genes within ``[lower, upper]``; ``X`` rows are ``float64``."""

    lower: Sequence[float]
    upper: Sequence[float]

    def _spec(self) -> Any:
        return {"real": {"lower": [float(v) for v in self.lower], "upper": [float(v) for v in self.upper]}}


@dataclass(frozen=True)
class Int:
    """Integer genes within ``[lower, upper]`` (inclusive); ``X`` rows are ``int64``."""

    lower: Sequence[int]
    upper: Sequence[int]

    def _spec(self) -> Any:
        return {"int": {"lower": [int(v) for v in self.lower], "upper": [int(v) for v in self.upper]}}


@dataclass(frozen=True)
class Mixed:
    """Reals, integers and bits in one genome; ``X`` is a dict of three arrays."""

    real: Real
    int: Int
    bits: int

    def _spec(self) -> Any:
        return {"mixed": {"real": self.real._spec(), "int": self.int._spec(), "bits": int(self.bits)}}


def _objectives(objectives: Union[int, Sequence[Union[str, tuple]]]) -> list:
    if isinstance(objectives, int):
        if objectives < 1:
            raise EvopruneError(f"objectives: need at least 1, got {objectives}")
        return [{"name": f"f{k + 1}", "direction": "minimize"} for k in range(objectives)]
    out = []
    for o in objectives:
        if isinstance(o, str):
            out.append({"name": o, "direction": "minimize"})
        else:
            name, d = o
            d = {"min": "minimize", "max": "maximize"}.get(d, d)
            if d not in ("minimize", "maximize"):
                raise EvopruneError(f"objectives: direction of {name!r} is {d!r}; use 'min' or 'max'")
            out.append({"name": name, "direction": d})
    return out


# ---------------------------------------------------------------------------------------------
# the engine


class Engine:
    """NSGA-II or C-TAEA as ask and tell.

    ``algorithm`` is ``"nsga2"`` (the default) or ``"ctaea"`` (constrained problems; its
    population is the fewest Das-Dennis reference directions that reach ``pop_size``, e.g. 91
    for 3 objectives and ``pop_size=91``, 105 for 100; generational mode only).
    ``crossover_prob`` defaults to the algorithm's own (0.9 and 1.0, as pymoo).

    ``genome`` is :class:`Bits`, :class:`Real`, :class:`Int` or :class:`Mixed`; ``objectives``
    a count (all minimised) or names, each optionally ``(name, "max")``. ``mode`` is
    ``"generational"`` (a generation is asked, then told in any order: the front is the same
    for any number of workers and equals ``evoprune moo``'s on the same seed) or
    ``"asynchronous"`` (steady state: ask one whenever a worker frees, tell each result as it
    comes). With ``checkpoint=DIR`` every ask and tell is journaled there and an engine made
    again with the same arguments continues where the last one stopped; ``pending()`` then
    gives the candidates that were out. Engines pickle (``save_state``/``load_state`` too).
    """

    def __init__(
        self,
        genome: Union[Bits, Real, Int, Mixed],
        objectives: Union[int, Sequence[Union[str, tuple]]],
        *,
        n_constraints: int = 0,
        pop_size: int = 100,
        n_offspring: Optional[int] = None,
        seed: int = 0,
        mode: str = "generational",
        cache: bool = True,
        archive: bool = False,
        crossover_prob: Optional[float] = None,
        eliminate_duplicates: bool = True,
        algorithm: str = "nsga2",
        checkpoint: Optional[Union[str, os.PathLike]] = None,
        checkpoint_every: int = 1,
        hv_reference: Optional[Sequence[float]] = None,
    ) -> None:
        spec = {
            "genome": genome._spec(),
            "objectives": _objectives(objectives),
            "n_constraints": int(n_constraints),
            "pop_size": int(pop_size),
            "n_offspring": None if n_offspring is None else int(n_offspring),
            "seed": int(seed),
            "mode": mode,
            "cache": bool(cache),
            "archive": bool(archive),
            "crossover_prob": None if crossover_prob is None else float(crossover_prob),
            "algorithm": str(algorithm),
            "eliminate_duplicates": bool(eliminate_duplicates),
            "checkpoint": None if checkpoint is None else os.fspath(checkpoint),
            "checkpoint_every": int(checkpoint_every),
            "hv_reference": None if hv_reference is None else [float(v) for v in hv_reference],
        }
        self._init(json.dumps(spec))

    def _init(self, spec: str) -> None:
        self._spec = spec
        d = json.loads(spec)
        self.mode = d["mode"]
        self.n_obj = len(d["objectives"])
        self.n_constraints = d["n_constraints"]
        self._native = _native.Engine(spec)

    @classmethod
    def _restore(cls, spec: str, state: bytes) -> "Engine":
        e = cls.__new__(cls)
        e._init(spec)
        e._native.load_state(state)
        return e

    def __reduce__(self):
        return (Engine._restore, (self._spec, self.save_state()))

    def ask(self, n: Optional[int] = None):
        """``(ids, X)``: up to ``n`` new candidates (default: the rest of the generation, or
        one in asynchronous mode). A generational engine returns fewer, even none, while
        members of the current generation are out."""
        if n is None:
            n = 1 if self.mode in ("asynchronous", "async") else 2**62
        return self._native.ask(int(n))

    def tell(self, ids, F, G=None, errors: Optional[Sequence[Optional[str]]] = None) -> None:
        """Results of ``ids``: objectives ``F`` (one row per id, in the objectives' own
        directions), constraints ``G`` (``<= 0`` is satisfied) and, for evaluations that
        failed, an error message (the candidate becomes infeasible; a NaN objective too)."""
        ids = [int(i) for i in np.atleast_1d(np.asarray(ids))]
        F = np.ascontiguousarray(np.asarray(F, dtype=np.float64).reshape(len(ids), -1))
        if G is not None:
            G = np.ascontiguousarray(np.asarray(G, dtype=np.float64).reshape(len(ids), -1))
        self._native.tell(ids, F, G, None if errors is None else list(errors))

    def pending(self):
        """``(ids, X)`` of candidates asked and not told."""
        return self._native.pending()

    def population(self):
        """``(X, F, G, rank, feasible)`` of the current population."""
        return self._native.population()

    def front(self):
        """``(X, F, G, rank, feasible)`` of the feasible first front."""
        return self._native.front()

    def stats(self) -> dict:
        """Generation, evaluations, cache hits, failures and the hypervolume history."""
        return self._native.stats()

    def exhausted(self) -> bool:
        """True when no new candidate can be bred (the search space is used up)."""
        return self._native.exhausted()

    def save_state(self) -> bytes:
        """The whole session (population, RNG, cache, candidates out) as bytes."""
        return self._native.save_state()

    def load_state(self, state: bytes) -> None:
        """Continue from :meth:`save_state`'s bytes (same constructor arguments)."""
        self._native.load_state(state)

    def checkpoint(self) -> None:
        """Snapshot the session to the checkpoint folder now."""
        self._native.checkpoint()


# ---------------------------------------------------------------------------------------------
# minimize, in pymoo's shape


@dataclass
class Result:
    """What :func:`minimize` returns: the feasible first front (``X``, ``F``, ``G``), the final
    population (``pop_X``, ``pop_F``), counters and the engine (to continue)."""

    X: Any
    F: np.ndarray
    G: np.ndarray
    pop_X: Any
    pop_F: np.ndarray
    n_gen: int
    n_eval: int
    engine: Engine = field(repr=False)


def _problem_parts(problem, xl, xu, n_obj, n_ieq_constr):
    """(evaluate(X) -> (F, G), genome, n_obj, n_constr) of a pymoo-style problem or a function."""
    if callable(problem) and not hasattr(problem, "_evaluate"):
        if xl is None or xu is None or n_obj is None:
            raise EvopruneError("minimize: a function needs xl=, xu= and n_obj=")

        def ev(X):
            out = problem(X)
            if isinstance(out, tuple):
                return np.asarray(out[0], float), np.asarray(out[1], float)
            return np.asarray(out, float), None

        return ev, Real(list(np.atleast_1d(xl)), list(np.atleast_1d(xu))), int(n_obj), int(n_ieq_constr)
    # pymoo Problem: n_obj, n_ieq_constr, xl, xu, _evaluate(X, out)
    nc = int(getattr(problem, "n_ieq_constr", getattr(problem, "n_constr", 0)) or 0)

    def ev(X):
        out: dict = {}
        problem._evaluate(X, out)
        F = np.asarray(out["F"], float)
        G = out.get("G")
        return F, (None if G is None else np.asarray(G, float).reshape(len(X), -1))

    return ev, Real(list(np.atleast_1d(problem.xl)), list(np.atleast_1d(problem.xu))), int(problem.n_obj), nc


def minimize(
    problem,
    *,
    xl=None,
    xu=None,
    n_obj: Optional[int] = None,
    n_ieq_constr: int = 0,
    pop_size: int = 100,
    n_offspring: Optional[int] = None,
    n_gen: Optional[int] = None,
    n_eval: Optional[int] = None,
    seed: int = 0,
    genome: Union[Bits, Real, Int, Mixed, None] = None,
    callback: Optional[Callable[[Engine], None]] = None,
    algorithm: str = "nsga2",
) -> Result:
    """Minimise ``problem`` with NSGA-II (or ``algorithm="ctaea"``): a pymoo ``Problem`` (``n_obj``, ``xl``, ``xu``,
    ``_evaluate(X, out)``) or a function ``f(X) -> F`` (or ``(F, G)``) on a batch of rows with
    ``xl``, ``xu`` and ``n_obj``. Stops after ``n_gen`` generations or ``n_eval`` evaluations
    (default 100 generations). The operators are pymoo's NSGA-II defaults (SBX eta 15,
    polynomial mutation eta 20), so the same settings give a comparable run."""
    ev, g, m, nc = _problem_parts(problem, xl, xu, n_obj, n_ieq_constr)
    if n_gen is None and n_eval is None:
        n_gen = 100
    eng = Engine(genome or g, m, n_constraints=nc, pop_size=pop_size, n_offspring=n_offspring,
                 seed=seed, algorithm=algorithm)
    while True:
        st = eng.stats()
        if n_gen is not None and st["generation"] >= n_gen and st["evaluations"] > 0:
            break
        if n_eval is not None and st["evaluations"] >= n_eval:
            break
        if eng.exhausted():
            break
        ids, X = eng.ask()
        if len(ids) == 0:
            continue
        F, G = ev(X)
        eng.tell(ids, F, G)
        if callback is not None:
            callback(eng)
    X, F, G, _, _ = eng.front()
    pX, pF, _, _, _ = eng.population()
    st = eng.stats()
    return Result(X, F, G, pX, pF, st["generation"], st["evaluations"], eng)


# ---------------------------------------------------------------------------------------------
# the methods


def _progress(show: Union[bool, Callable, None]):
    if callable(show):
        return show
    if not show:
        return None
    import sys

    def p(kind, value):
        if kind == "stage":
            print(f"[evoprune] {value[0]}", file=sys.stderr)
        elif kind == "note":
            print(f"[evoprune] {value}", file=sys.stderr)

    return p


def _result(d: dict) -> dict:
    """The front as rows (dicts) and as arrays of its numeric columns."""
    tables = [{"title": t, "headers": h, "rows": [dict(zip(h, r)) for r in rows]} for t, h, rows in d["tables"]]
    d["tables"] = tables
    front = tables[0]["rows"] if tables else []
    d["front"] = front
    arrays = {}
    if front:
        for h in tables[0]["headers"]:
            try:
                arrays[h] = np.array([float(r[h]) for r in front])
            except (TypeError, ValueError):
                pass
    d["arrays"] = arrays
    return d


def run(
    config: Union[str, os.PathLike, None] = None,
    out: Union[str, os.PathLike, None] = None,
    *,
    seed: Optional[int] = None,
    evaluations: Optional[int] = None,
    threads: int = 0,
    progress: Union[bool, Callable, None] = False,
    ray: Union[str, Any, None] = None,
    workers: Optional[int] = None,
) -> dict:
    """Run a config as ``evoprune run CONFIG --out OUT`` does (no config: the built-in digits
    run). ``ray="auto"`` or an address (or an :class:`evoprune.ray.RayPool`) evaluates the
    candidates on a Ray cluster. Returns ``dir``, ``lines``, ``tables``, the ``front`` as rows
    and its numeric columns as ``arrays``."""
    cluster = _cluster(ray, workers)
    return _result(
        _native.run(
            None if config is None else os.fspath(config),
            None if out is None else os.fspath(out),
            seed,
            evaluations,
            threads,
            _progress(progress),
            cluster,
        )
    )


def resume(
    path: Union[str, os.PathLike],
    *,
    threads: int = 0,
    progress: Union[bool, Callable, None] = False,
    ray: Union[str, Any, None] = None,
    workers: Optional[int] = None,
) -> dict:
    """Continue (or re-finalise) the run in ``path``, as ``evoprune resume`` does."""
    cluster = _cluster(ray, workers)
    return _result(_native.resume(os.fspath(path), threads, _progress(progress), cluster))


def export(path: Union[str, os.PathLike], member: int, out: Union[str, os.PathLike, None] = None) -> list:
    """Export front member ``member`` of the finished run in ``path``, as ``evoprune export``
    does; the lines saying what was written."""
    return _native.export(os.fspath(path), int(member), None if out is None else os.fspath(out))


def _cluster(ray, workers):
    if ray is None:
        return None
    if hasattr(ray, "evaluate") and hasattr(ray, "workers"):
        return ray
    from .ray import RayPool

    return RayPool(address=ray, workers=workers)
