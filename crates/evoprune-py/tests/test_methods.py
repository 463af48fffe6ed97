"""The methods from Python: evoprune.run / resume / export behave as the command line."""

import pathlib

import pytest

import evoprune


def front_csv(run_dir):
    return (pathlib.Path(run_dir) / "front.csv").read_text()


def test_a_run_through_python_equals_the_cli_run(cli, tmp_path):
    cli("run", "--out", tmp_path / "cli", "--evaluations", 60, "--threads", 1)
    seen = []
    res = evoprune.run(out=tmp_path / "py", evaluations=60, threads=2, progress=lambda k, v: seen.append(k))
    assert front_csv(tmp_path / "cli") == front_csv(tmp_path / "py")
    assert res["dir"] == str(tmp_path / "py")
    assert res["front"] and "member" in res["front"][0]
    assert len(res["arrays"]["val_acc"]) == len(res["front"])
    assert "stage" in seen and "progress" in seen
    # a finished run resumes to the same result, and a member exports
    again = evoprune.resume(tmp_path / "py")
    assert again["front"] == res["front"]
    lines = evoprune.export(tmp_path / "py", 0, tmp_path / "head.safetensors")
    assert (tmp_path / "head.safetensors").is_file() and lines


def test_method_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ncolour = 1\n')
    with pytest.raises(evoprune.EvopruneError, match="colour"):
        evoprune.run(bad, out=tmp_path / "r")
    assert not (tmp_path / "r").exists()
    with pytest.raises(evoprune.EvopruneError, match="not a run folder"):
        evoprune.resume(tmp_path)


def test_ctrl_c_stops_a_python_run_resumably(cli, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    cli("run", "--out", tmp_path / "cli", "--evaluations", 90, "--threads", 1)
    run_dir = tmp_path / "py"
    p = subprocess.Popen([sys.executable, "-m", "evoprune", "run", "--out", str(run_dir), "--evaluations", "90"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run_dir / "checkpoint" / "state.ckpt").exists():
        assert p.poll() is None and time.time() < deadline, p.stderr.read() if p.poll() is not None else "timeout"
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err[-2000:])
    assert "resume" in err and not (run_dir / "front.csv").exists()
    evoprune.resume(run_dir)
    assert front_csv(run_dir) == front_csv(tmp_path / "cli")
