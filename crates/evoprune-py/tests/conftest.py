"""Shared fixtures: the evoprune command line built by cargo (EVOPRUNE_BIN, default the
workspace's target/debug/evoprune) for comparisons with the Python package."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def cli():
    path = pathlib.Path(os.environ.get("EVOPRUNE_BIN", ROOT / "target" / "debug" / "evoprune"))
    if not path.is_file():
        pytest.fail(f"{path}: the evoprune binary is needed (cargo build -p evoprune-cli, or set EVOPRUNE_BIN)")

    def run(*args, **kw):
        return subprocess.run([str(path), *map(str, args)], check=True, capture_output=True, text=True, **kw)

    return run
