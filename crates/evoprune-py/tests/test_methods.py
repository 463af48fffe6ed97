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
