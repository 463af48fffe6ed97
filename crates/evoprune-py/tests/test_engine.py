"""The engine from Python: ask/tell on NumPy arrays, against `evoprune moo` and itself."""

import csv
import math
import pickle

import numpy as np
import pytest

import evoprune
from evoprune import Bits, Engine, EvopruneError, Int, Mixed, Real


def zdt1(X):
    """ZDT1 with the Rust problem's operation order (a left-to-right sum), so values agree to
    the last bit."""
    out = []
    for x in np.atleast_2d(X).tolist():
        s = 0.0
        for v in x[1:]:
            s += v
        g = 1.0 + 9.0 * s / (len(x) - 1.0)
        out.append([x[0], g * (1.0 - math.sqrt(x[0] / g))])
    return np.array(out)


def rows(F):
    return sorted(tuple(float(v) for v in r) for r in F)


def test_zdt1_through_python_ask_tell_equals_evoprune_moo(cli, tmp_path):
    out = tmp_path / "front.csv"
    cli("moo", "--problem", "zdt1", "--pop-size", 40, "--generations", 30, "--seed", 3, "--out", out)
    with open(out) as f:
        theirs = sorted(tuple(float(v) for v in r) for r in list(csv.reader(f))[1:])
    res = evoprune.minimize(zdt1, xl=[0.0] * 30, xu=[1.0] * 30, n_obj=2, pop_size=40, n_gen=30, seed=3)
    assert res.n_gen == 30 and res.n_eval == 40 * 31
    assert rows(res.F) == theirs  # bit for bit: the CSV holds shortest round-trip decimals


def c2_dtlz2(X):
    """C2-DTLZ2 (3 objectives, r = 0.4) with the Rust problem's operation order."""
    F, G = [], []
    for x in np.atleast_2d(X).tolist():
        m = 3
        g = 0.0
        for v in x[m - 1:]:
            g += (v - 0.5) * (v - 0.5)
        f = []
        for i in range(m):
            v = 1.0 + g
            p = 1.0
            for t in x[: m - 1 - i]:
                p *= math.cos(t * math.pi / 2.0)
            v *= p
            if i > 0:
                v *= math.sin(x[m - 1 - i] * math.pi / 2.0)
            f.append(v)
        r2 = 0.4 * 0.4
        sq = 0.0
        for v in f:
            sq += v * v
        corners = math.inf
        for i in range(m):
            corners = min(corners, (f[i] - 1.0) * (f[i] - 1.0) + (sq - f[i] * f[i]) - r2)
        a = 1.0 / math.sqrt(m)
        centre = 0.0
        for v in f:
            centre += (v - a) * (v - a)
        F.append(f)
        G.append([min(corners, centre - r2)])
    return np.array(F), np.array(G)


def test_ctaea_through_python_ask_tell_equals_evoprune_moo(cli, tmp_path):
    out = tmp_path / "front.csv"
    cli("moo", "--problem", "c2-dtlz2", "--algorithm", "ctaea", "--pop-size", 28,
        "--generations", 40, "--seed", 4, "--out", out)
    with open(out) as f:
        theirs = sorted(tuple(float(v) for v in r) for r in list(csv.reader(f))[1:])
    res = evoprune.minimize(c2_dtlz2, xl=[0.0] * 12, xu=[1.0] * 12, n_obj=3, n_ieq_constr=1,
                            pop_size=28, n_gen=40, seed=4, algorithm="ctaea")
    assert res.n_gen == 40 and res.n_eval <= 28 * 41
    assert len(theirs) > 3 and rows(res.F) == theirs
    assert (res.G <= 0).all()
    # both archives are in the population: the convergence archive, then the diversity one
    assert len(res.pop_F) == 56
    with pytest.raises(EvopruneError, match="generational only"):
        Engine(Real([0.0] * 12, [1.0] * 12), 3, algorithm="ctaea", mode="asynchronous")
    with pytest.raises(EvopruneError, match="algorithm"):
        Engine(Real([0.0] * 12, [1.0] * 12), 3, algorithm="moead")


class Zdt1Problem:
    """The shape of a pymoo Problem: n_var, n_obj, xl, xu, _evaluate(X, out)."""

    n_var, n_obj, n_ieq_constr = 30, 2, 0
    xl, xu = np.zeros(30), np.ones(30)

    def _evaluate(self, X, out):
        out["F"] = zdt1(X)


def test_minimize_takes_a_pymoo_shaped_problem_and_any_tell_order():
    a = evoprune.minimize(Zdt1Problem(), pop_size=20, n_gen=10, seed=5)
    # the same run, asked in chunks of 3 and told backwards
    e = Engine(Real([0.0] * 30, [1.0] * 30), 2, pop_size=20, seed=5)
    while e.stats()["generation"] < 10 or e.stats()["evaluations"] == 0:
        ids, X = e.ask(3)
        e.tell(ids[::-1], zdt1(X)[::-1])
    assert rows(e.front()[1]) == rows(a.F)
    assert a.F.shape[1] == 2 and len(a.F) > 5


def straight_and_resumed(make, evaluate, steps, cut):
    """Run `steps` ask/tell rounds straight, and again with a pickle round trip after `cut`."""
    a = make()
    for _ in range(steps):
        ids, X = a.ask()
        if len(ids):
            a.tell(ids, evaluate(X))
    b = make()
    for k in range(steps):
        if k == cut:
            b = pickle.loads(pickle.dumps(b))
        ids, X = b.ask()
        if len(ids):
            b.tell(ids, evaluate(X))
    return a, b


def test_state_save_and_load_resume_to_the_same_front():
    make = lambda: Engine(Real([0.0] * 30, [1.0] * 30), 2, pop_size=16, seed=2)
    a, b = straight_and_resumed(make, zdt1, 12, 5)
    assert rows(a.front()[1]) == rows(b.front()[1])
    assert a.stats() == b.stats()
    # candidates out when the state is saved come back as pending
    c = make()
    ids, X = c.ask(5)
    d = make()
    d.load_state(c.save_state())
    pids, pX = d.pending()
    assert list(pids) == list(ids) and np.array_equal(pX, X)


def ones(X):
    k = X.sum(axis=1).astype(float)
    return np.stack([-k, k], axis=1)


def test_asynchronous_checkpoint_folder_resumes_the_same_run(tmp_path):
    def run(engine, steps, inflight, order):
        for _ in range(steps):
            ids, X = engine.ask(3 - len(inflight))
            inflight.extend(zip(ids, X))
            j = order.integers(len(inflight))
            i, x = inflight.pop(j)
            engine.tell([i], ones(x[None]))

    mk = lambda ck=None: Engine(Bits(20), [("ones", "max"), "zeros"], pop_size=8, seed=4,
                                mode="asynchronous", checkpoint=ck)
    straight = mk()
    run(straight, 50, [], np.random.default_rng(0))
    first = mk(tmp_path / "ck")
    inflight, order = [], np.random.default_rng(0)
    run(first, 21, inflight, order)
    del first
    again = mk(tmp_path / "ck")
    pids, _ = again.pending()
    assert sorted(int(i) for i, _ in inflight) == sorted(int(i) for i in pids)
    run(again, 29, inflight, order)
    assert again.stats() == straight.stats()
    assert rows(again.population()[1]) == rows(straight.population()[1])


def test_bits_ints_and_mixed_genomes_come_as_arrays():
    e = Engine(Bits(7), 2, pop_size=6, seed=1)
    ids, X = e.ask()
    assert X.dtype == np.bool_ and X.shape == (6, 7)
    e = Engine(Int([0, -3], [4, 3]), 1, pop_size=6, seed=1)
    ids, X = e.ask()
    assert X.dtype == np.int64 and (X[:, 0] >= 0).all() and (X[:, 1] <= 3).all()
    e = Engine(Mixed(Real([0.0], [1.0]), Int([2], [8]), 3), 2, pop_size=4, seed=1)
    ids, X = e.ask()
    assert X["real"].shape == (4, 1) and X["int"].dtype == np.int64 and X["bits"].shape == (4, 3)
    e.tell(ids, np.c_[X["real"][:, 0], X["int"][:, 0]])
    assert e.stats()["evaluations"] == 4


def test_bad_input_is_a_clear_error_and_changes_nothing():
    e = Engine(Real([0.0], [1.0]), 2, n_constraints=1, pop_size=4, seed=1)
    ids, X = e.ask()
    with pytest.raises(EvopruneError, match="F: shape"):
        e.tell(ids, np.zeros((4, 3)), np.zeros((4, 1)))
    with pytest.raises(EvopruneError, match="constraints"):
        e.tell(ids, np.zeros((4, 2)))
    with pytest.raises(EvopruneError, match="not a candidate in flight"):
        e.tell([99], np.zeros((1, 2)), np.zeros((1, 1)))
    assert len(e.pending()[0]) == 4
    # NaN objectives and explicit errors make failed (infeasible) candidates
    F = np.zeros((4, 2))
    F[0, 0] = np.nan
    e.tell(ids, F, np.zeros((4, 1)), errors=[None, "diverged", None, None])
    assert e.stats()["failures"] == 2
    with pytest.raises(EvopruneError, match="unknown field"):
        evoprune._native.Engine('{"genome": {"bits": 3}, "objectives": [], "pop_size": 4, "colour": 1}')
    with pytest.raises(EvopruneError, match="lower"):
        Engine(Real([1.0], [0.0]), 2)
    with pytest.raises(EvopruneError, match="direction"):
        Engine(Bits(3), [("a", "up")])
    with pytest.raises(EvopruneError, match="mode"):
        Engine(Bits(3), 2, mode="sideways")
    with pytest.raises(EvopruneError, match="not a saved session"):
        e.load_state(b"\x01\x02")
