"""``python -m evoprune``: run, resume and export as the command line does, with the candidates
evaluated on a Ray cluster (``--ray ADDRESS``; ``evoprune run CONFIG --ray ADDRESS`` calls this).

    python -m evoprune run [CONFIG] [--out DIR] [--ray ADDRESS] [--workers N] [--seed S] [--evaluations N]
    python -m evoprune resume DIR [--ray ADDRESS] [--workers N]
    python -m evoprune export DIR --member K [--out FILE]

Exit status 2 for bad input (the message names the file, key or node), 130 for an interrupted
run (resume it).
"""

from __future__ import annotations

import argparse
import sys

import evoprune


def _show(res: dict) -> None:
    for line in res["lines"]:
        print(line)
    for t in res["tables"]:
        print(f"\n{t['title']}" if t["title"] else "")
        headers = t["headers"]
        rows = [[r[h] for h in headers] for r in t["rows"]]
        widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
        print("  ".join(h.rjust(w) for h, w in zip(headers, widths)))
        for r in rows:
            print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
    for line in res["footer"]:
        print(line)
    print(f"\nrun folder: {res['dir']}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m evoprune")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("config", nargs="?")
    r.add_argument("--out")
    r.add_argument("--seed", type=int)
    r.add_argument("--evaluations", type=int)
    r.add_argument("--threads", type=int, default=0)
    for p in (r, sub.add_parser("resume")):
        if p is not r:
            p.add_argument("run_dir")
            p.add_argument("--threads", type=int, default=0)
        p.add_argument("--ray", metavar="ADDRESS", help="Ray cluster address ('auto': the local one; 'local': start a private one)")
        p.add_argument("--workers", type=int, help="Ray workers (default: one per cluster CPU)")
    e = sub.add_parser("export")
    e.add_argument("run_dir")
    e.add_argument("--member", type=int, required=True)
    e.add_argument("--out")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "export":
            for line in evoprune.export(a.run_dir, a.member, a.out):
                print(line)
            return 0
        ray = None if a.ray is None else (None if a.ray == "local" else a.ray)
        cluster = None
        if a.ray is not None:
            from evoprune.ray import RayPool

            cluster = RayPool(address=ray, workers=a.workers)
        if a.cmd == "run":
            res = evoprune.run(a.config, a.out, seed=a.seed, evaluations=a.evaluations, threads=a.threads,
                               progress=True, ray=cluster)
        else:
            res = evoprune.resume(a.run_dir, threads=a.threads, progress=True, ray=cluster)
        _show(res)
        return 0
    except evoprune.Interrupted as ex:
        print(ex, file=sys.stderr)
        return 130
    except evoprune.EvopruneError as ex:
        print(f"error: {ex}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
