"""A real Ray cluster on this machine, started by the tests with `ray start`: a head node and a
second node, one CPU each. The digits run gives the same front on it as on local threads, also
when the second node is killed mid-run and when the driver is killed and the run resumed."""

import os
import pathlib
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

import numpy as np
import pytest

# Ray's token authentication, as the README advises: every node, this driver and the
# subprocesses below read the token from this file (they inherit the environment). Set before
# Ray is imported: it reads its auth settings then.
_TOKEN = os.path.join(tempfile.mkdtemp(prefix="evoprune-ray-"), "auth_token")
with open(_TOKEN, "w") as _f:
    _f.write(secrets.token_hex(32))
os.environ["RAY_AUTH_MODE"] = "token"
os.environ["RAY_AUTH_TOKEN_PATH"] = _TOKEN

import ray  # noqa: E402

import evoprune  # noqa: E402
import evoprune.ray as eray  # noqa: E402

EVALS = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_cli(*args, env=None):
    exe = pathlib.Path(sys.executable).with_name("ray")
    return subprocess.run([str(exe), *args], check=True, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def cluster():
    port = free_port()
    # a lost node is noticed within about 2 s instead of the default 15 s or more
    env = dict(os.environ, RAY_health_check_period_ms="500", RAY_health_check_failure_threshold="3",
               RAY_health_check_initial_delay_ms="0")
    ray_cli("start", "--head", "--num-cpus=1", f"--port={port}", "--node-ip-address=127.0.0.1",
            "--include-dashboard=false", "--disable-usage-stats", env=env)
    address = f"127.0.0.1:{port}"
    ray_cli("start", f"--address={address}", "--num-cpus=1", "--node-ip-address=127.0.0.1", env=env)
    ray.init(address=address)
    deadline = time.time() + 60
    while ray.cluster_resources().get("CPU", 0) < 2:
        assert time.time() < deadline, "the second node did not join"
        time.sleep(0.5)
    yield address
    ray.shutdown()
    subprocess.run([str(pathlib.Path(sys.executable).with_name("ray")), "stop", "--force"], capture_output=True)


@pytest.fixture(scope="module")
def local_front(tmp_path_factory):
    d = tmp_path_factory.mktemp("local") / "run"
    evoprune.run(out=d, evaluations=EVALS, threads=2)
    return (d / "front.csv").read_text()


def second_node(address):
    nodes = [n for n in ray.nodes() if n["Alive"] and not n.get("Resources", {}).get("node:__internal_head__")]
    assert len(nodes) == 1, nodes
    return nodes[0]


def kill_node(node):
    node_id = node["NodeID"]
    pids = subprocess.run(["pgrep", "-f", f"raylet.*--node_id={node_id}"], capture_output=True, text=True).stdout.split()
    assert pids, f"no raylet of node {node_id}"
    for p in pids:
        os.kill(int(p), signal.SIGKILL)


def test_the_digits_run_on_the_cluster_equals_local_threads(cluster, local_front, tmp_path):
    pool = eray.RayPool(address=cluster, workers=2)
    nodes = set(ray.get([a.node.remote() for a in pool.actors]))
    assert len(nodes) == 2, "one worker on each node"
    res = evoprune.run(out=tmp_path / "r", evaluations=EVALS, ray=pool)
    assert (tmp_path / "r" / "front.csv").read_text() == local_front
    assert res["front"]
    pool.shutdown()


def test_the_command_line_hands_a_ray_run_to_python(cluster, local_front, tmp_path, cli):
    env = dict(os.environ, EVOPRUNE_PYTHON=sys.executable)
    r = cli("run", "--out", tmp_path / "r", "--evaluations", EVALS, "--ray", cluster, "--workers", 2, env=env)
    assert "run folder:" in r.stdout
    assert (tmp_path / "r" / "front.csv").read_text() == local_front
    bad = tmp_path / "ga.toml"
    bad.write_text('method = "ga-prune"\nname = "x"\n')
    p = subprocess.run([os.environ.get("EVOPRUNE_BIN", str(pathlib.Path(__file__).resolve().parents[3] / "target/debug/evoprune")),
                        "run", bad, "--ray", cluster], env=env, capture_output=True, text=True)
    assert p.returncode == 2 and "this machine only" in p.stderr, p.stderr


def test_a_client_without_the_token_is_refused(cluster):
    env = dict(os.environ, RAY_AUTH_TOKEN="0" * 64)
    env.pop("RAY_AUTH_TOKEN_PATH")
    code = f"import ray; ray.init(address={cluster!r}); print(ray.cluster_resources())"
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "uthentication" in p.stderr, p.stderr[-2000:]


def test_killing_a_worker_node_mid_run_still_gives_that_front(cluster, local_front, tmp_path):
    pool = eray.RayPool(address=cluster, workers=2)
    victim = second_node(cluster)
    killed = threading.Event()

    def progress(kind, value):
        if kind == "progress" and value >= EVALS // 3 and not killed.is_set():
            killed.set()
            kill_node(victim)

    evoprune.run(out=tmp_path / "r", evaluations=EVALS, ray=pool, progress=progress)
    assert killed.is_set()
    assert pool.lost >= 1, "the killed node's worker was noticed and its work sent elsewhere"
    assert (tmp_path / "r" / "front.csv").read_text() == local_front


def test_killing_the_driver_and_resuming_gives_that_front(cluster, local_front, tmp_path):
    # the cluster may have lost its second node above: the run goes on with what is left
    run_dir = tmp_path / "r"
    script = textwrap.dedent(f"""
        import evoprune, evoprune.ray as eray
        pool = eray.RayPool(address={cluster!r}, workers=1)
        def progress(kind, value):
            if kind == "progress":
                print(value, flush=True)
        evoprune.run(out={str(run_dir)!r}, evaluations={EVALS}, ray=pool, progress=progress)
    """)
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.strip().isdigit() and int(line) >= EVALS // 2:
            break
    p.kill()
    p.wait()
    assert not (run_dir / "front.csv").exists(), "killed before the end"
    res = evoprune.resume(run_dir, ray=eray.RayPool(address=cluster, workers=1))
    assert (run_dir / "front.csv").read_text() == local_front
    assert res["front"]


def test_ask_tell_on_ray_tasks_generational_equals_local_and_asynchronous_runs(cluster):
    def onemax(x):  # nested: Ray pickles it by value (workers cannot import this test module)
        k = float(np.sum(x))
        return [-k, k]

    mk = lambda mode: evoprune.Engine(evoprune.Bits(24), 2, pop_size=10, seed=6, mode=mode)
    # half a CPU each: the cluster may be down to the head node's one CPU after the tests above
    far = mk("generational")
    eray.evaluate(far, onemax, n_eval=60, workers=2, num_cpus=0.5, address=cluster)
    near = mk("generational")
    while near.stats()["evaluations"] < 60:
        ids, X = near.ask()
        near.tell(ids, [onemax(x) for x in X])
    assert far.stats() == near.stats()
    assert sorted(map(tuple, far.front()[1])) == sorted(map(tuple, near.front()[1]))

    a = mk("asynchronous")
    m = eray.evaluate(a, onemax, n_eval=60, workers=2, num_cpus=0.5, address=cluster)
    with pytest.raises(RuntimeError, match="workers started"):
        eray.evaluate(mk("asynchronous"), onemax, n_eval=10, workers=2, num_cpus=64, startup_timeout=5)
    assert a.stats()["evaluations"] >= 60 and m["evaluations"] == a.stats()["evaluations"]
    assert len(a.population()[0]) == 10 and not len(a.pending()[0])
