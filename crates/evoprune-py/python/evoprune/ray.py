"""Candidate evaluation on a Ray cluster (``pip install "evoprune[ray]"``).

* :class:`RayPool` evaluates a method run's candidates (``evoprune.run(config, ray=pool)``):
  one actor per worker; each actor loads the stage's evaluation context (data, cached
  features, baseline weights, read from the run folder, which workers must see at the same
  path: one machine, or a shared file system) once, then evaluates batch after batch. The run
  is generational: its front is the same bit for bit as on local threads. A task lost with its
  worker (node) is sent again to a live worker; the driver journals every finished wave, so
  a killed driver resumes (``evoprune.resume(dir, ray=pool)``) without losing them.
* :func:`evaluate` drives an :class:`evoprune.Engine` with your own Python function as Ray
  tasks, generational or asynchronous (a new candidate whenever a worker frees).

Security: Ray's dashboard and job API run code for anyone who can reach them (ShadowRay,
CVE-2023-48022). A local cluster started by :class:`RayPool` (``address=None``) listens on
127.0.0.1 only and has no dashboard; for a multi-machine cluster see the README.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Optional

import numpy as np

try:
    import ray
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError('evoprune.ray needs Ray: pip install "evoprune[ray]"') from e

from . import _native

__all__ = ["RayPool", "evaluate", "init"]


def init(address: Optional[str] = None, **kwargs) -> None:
    """Connect to ``address`` (``"auto"``: the cluster ``ray start`` made on this machine), or
    start a private one on this machine listening on localhost only, without a dashboard."""
    if ray.is_initialized():
        return
    if address is None:
        kwargs.setdefault("include_dashboard", False)
        kwargs.setdefault("_node_ip_address", "127.0.0.1")
        os.environ.pop("RAY_ADDRESS", None)
        ray.init(**kwargs)
    else:
        ray.init(address=address, **kwargs)


@ray.remote(num_cpus=1, max_restarts=0)
class _StageActor:
    """A worker: the evaluation context of each stage it has seen, loaded once."""

    def __init__(self) -> None:
        self.stages: dict = {}

    def evaluate(self, stage: str, genomes: list) -> list:
        w = self.stages.get(stage)
        if w is None:
            w = self.stages[stage] = _native.Worker(stage)
        return w.evaluate(genomes)

    def node(self) -> str:
        return ray.get_runtime_context().get_node_id()


class RayPool:
    """A method run's evaluator on Ray actors (see the module docs).

    ``workers`` actors of ``num_cpus`` each (default: one per CPU of the cluster). A batch is
    split evenly across the live actors; when an actor dies (its node lost), its share is sent
    again to the others, up to ``max_retries`` times per share, and a replacement actor is
    started when the cluster has room.
    """

    def __init__(
        self,
        address: Optional[str] = None,
        workers: Optional[int] = None,
        num_cpus: float = 1,
        max_retries: int = 5,
    ) -> None:
        init(address)
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 1) // num_cpus))
        self.target = int(workers)
        self.num_cpus = num_cpus
        self.max_retries = max_retries
        self.actors: list = []
        self.lost = 0
        self._top_up(wait=True)

    def _new_actor(self):
        return _StageActor.options(num_cpus=self.num_cpus).remote()

    def _top_up(self, wait: bool = False) -> None:
        while len(self.actors) < self.target:
            if not wait and ray.available_resources().get("CPU", 0) < self.num_cpus:
                break
            self.actors.append(self._new_actor())
        if wait:
            ray.get([a.node.remote() for a in self.actors])

    def workers(self) -> int:
        return self.target

    def evaluate(self, stage: str, genomes: list) -> list:
        """Outcomes (bytes) of ``genomes`` (bytes) of the engine stage ``stage``, in order."""
        if not genomes:
            return []
        self._top_up()
        n = len(genomes)
        out: list = [None] * n
        k = max(1, min(len(self.actors), n))
        shares = [list(range(i * n // k, (i + 1) * n // k)) for i in range(k)]
        tries = [0] * len(shares)
        todo = list(range(len(shares)))
        inflight: dict = {}
        turn = 0
        while todo or inflight:
            while todo:
                if not self.actors:
                    raise RuntimeError("no Ray worker left to evaluate on")
                s = todo.pop()
                a = self.actors[turn % len(self.actors)]
                turn += 1
                ref = a.evaluate.remote(stage, [genomes[i] for i in shares[s]])
                inflight[ref] = (s, a)
            done, _ = ray.wait(list(inflight), num_returns=1)
            for ref in done:
                s, a = inflight.pop(ref)
                try:
                    res = ray.get(ref)
                except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                        ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as e:
                    if a in self.actors:
                        self.actors.remove(a)
                        self.lost += 1
                    tries[s] += 1
                    if tries[s] > self.max_retries:
                        raise RuntimeError(f"a batch failed {tries[s]} times: {e}") from e
                    todo.append(s)
                    self._top_up()
                    continue
                for i, r in zip(shares[s], res):
                    out[i] = r
        return out

    def shutdown(self) -> None:
        for a in self.actors:
            ray.kill(a)
        self.actors = []


@ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)
class _FnActor:
    """A worker holding the user's function (sent once, not with every candidate)."""

    def __init__(self, fn) -> None:
        self.fn = fn

    def call(self, x):
        t0 = time.time()
        try:
            r = self.fn(x)
        except Exception as e:  # the candidate fails, the worker lives on
            return e, t0, time.time()
        return r, t0, time.time()


def evaluate(
    engine,
    fn: Callable[[Any], Any],
    *,
    n_eval: int,
    workers: int,
    num_cpus: float = 1,
    depth: int = 2,
    address: Optional[str] = None,
    startup_timeout: float = 300.0,
) -> dict:
    """Drive ``engine`` with ``fn(x) -> objectives`` on ``workers`` Ray actors until ``n_eval``
    evaluations are told. Asynchronous engines keep ``depth`` candidates queued on every actor
    (so an actor starts the next one without waiting for the round trip to the driver) and ask
    a new candidate as soon as one finishes; generational engines evaluate a generation at a
    time, spread over the actors. ``fn`` may return ``(F, G)``; an exception makes the
    candidate a failure. A lost actor is restarted by Ray and its calls retried.

    Returns measurements: wall seconds, ``busy`` (the fraction of ``workers x wall`` spent
    inside ``fn``), and the coordinator's seconds per evaluation (tell + ask + submit)."""
    init(address)
    actors = [_FnActor.options(num_cpus=num_cpus).remote(fn) for _ in range(workers)]
    inflight: dict = {}
    load = [0] * workers
    busy = 0.0
    coord = 0.0
    told = 0
    window: list = []  # coordinator seconds of each of the last evaluations
    windows: list = []
    asynchronous = engine.mode in ("asynchronous", "async")

    def submit(k: int, to: Optional[int] = None) -> None:
        ids, X = engine.ask(k)
        for j, i in enumerate(ids):
            x = {key: v[j] for key, v in X.items()} if isinstance(X, dict) else X[j]
            w = to if to is not None else min(range(workers), key=lambda q: load[q])
            load[w] += 1
            inflight[actors[w].call.remote(x)] = (int(i), w)

    def tell(ref) -> int:
        nonlocal busy
        i, w = inflight.pop(ref)
        load[w] -= 1
        r, t0, t1 = ray.get(ref)
        busy += t1 - t0
        if isinstance(r, Exception):
            F = np.full((1, engine.n_obj), np.nan)
            G = None if not engine.n_constraints else np.zeros((1, engine.n_constraints))
            engine.tell([i], F, G, errors=[f"{type(r).__name__}: {r}"])
        else:
            F, G = r if isinstance(r, tuple) else (r, None)
            engine.tell([i], np.atleast_2d(np.asarray(F, float)), None if G is None else np.atleast_2d(G))
        return w

    ready, waiting = ray.wait([a.__ray_ready__.remote() for a in actors], num_returns=workers,
                              timeout=startup_timeout)
    if waiting:
        for a in actors:
            ray.kill(a)
        raise RuntimeError(
            f"only {len(ready)} of {workers} Ray workers started within {startup_timeout:.0f} s: "
            f"the cluster has {ray.available_resources().get('CPU', 0):g} free CPUs for "
            f"{workers} x num_cpus={num_cpus}"
        )
    start = time.time()
    if asynchronous:
        for w in range(workers):
            submit(min(depth, max(0, n_eval - len(inflight))), to=w)
        while inflight:
            done, _ = ray.wait(list(inflight), num_returns=1)
            t = time.perf_counter()
            w = tell(done[0])
            told += 1
            if told + len(inflight) < n_eval:
                submit(1, to=w)
            dt = time.perf_counter() - t
            coord += dt
            window.append(dt)
            if len(window) == 500:
                windows.append(sum(window) / len(window))
                window.clear()
    else:
        while told < n_eval and not engine.exhausted():
            t = time.perf_counter()
            submit(2**62)
            coord += time.perf_counter() - t
            while inflight:
                done, _ = ray.wait(list(inflight), num_returns=1)
                t = time.perf_counter()
                tell(done[0])
                told += 1
                coord += time.perf_counter() - t
    wall = time.time() - start
    for a in actors:
        ray.kill(a)
    st = engine.stats()
    return {
        "evaluations": st["evaluations"],
        "wall_seconds": wall,
        "busy": busy / (workers * wall) if wall > 0 else 0.0,
        "coordinator_seconds_per_evaluation": coord / max(1, told),
        # asynchronous mode: the mean of each successive 500 evaluations (flat when the
        # engine's cost does not grow with the evaluations done)
        "coordinator_seconds_by_500": windows,
    }
