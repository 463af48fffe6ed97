#!/usr/bin/env python3
"""Rerun the commands behind the README's result tables and rewrite the tables from what they
wrote, so the numbers in the README cannot drift from the code.

Each block of README.md between `<!-- results:NAME -->` and `<!-- /results:NAME -->` is owned by
one entry of BLOCKS below: the commands that produce it (run with the release binary into
`runs/readme/...`, timed, peak memory measured with /usr/bin/time) and a renderer that turns
the run folders' machine-readable outputs (front.json, result.json) into Markdown. Rows are
chosen by fixed rules written here (never by looking at test scores), and the surrounding prose
that quotes numbers is generated with them.

    python3 scripts/results.py --list
    python3 scripts/results.py deeptl-digits            # rerun, rewrite the block
    python3 scripts/results.py --render-only ga          # rewrite from the existing run folders
    python3 scripts/results.py all                       # everything (about an hour on 2 cores)

The binary is built first (`cargo build --release -p evoprune-cli`). Runs of a block go to
`runs/readme/<run>`; an existing folder is removed before its command reruns.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
RUNS = os.path.join(ROOT, "runs", "readme")
BIN = os.path.join(ROOT, "target", "release", "evoprune")
TIMES = os.path.join(RUNS, "times.json")


# ---------------------------------------------------------------------------------------------
# running


def load_times():
    if os.path.exists(TIMES):
        with open(TIMES) as f:
            return json.load(f)
    return {}


def save_times(t):
    os.makedirs(RUNS, exist_ok=True)
    with open(TIMES + ".partial", "w") as f:
        json.dump(t, f, indent=1, sort_keys=True)
    os.replace(TIMES + ".partial", TIMES)


def run(name, config):
    """`evoprune run CONFIG --out runs/readme/NAME`, timed; returns (seconds, peak MB)."""
    out = os.path.join(RUNS, name)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(RUNS, exist_ok=True)
    cmd = [BIN, "run"] + ([config] if config else []) + ["--out", out]
    print("$", " ".join(cmd), file=sys.stderr, flush=True)
    tfile = out + ".time"
    t0 = time.monotonic()
    sfile = out + ".stdout"
    with open(sfile, "w") as so:
        p = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", tfile] + cmd, cwd=ROOT,
                             stdout=so, stderr=subprocess.PIPE, text=True)
        log = []
        for line in p.stderr:  # progress and notes: shown now, kept for the renderers
            sys.stderr.write(line)
            log.append(line)
        p.wait()
    with open(sfile) as f:
        stdout = f.read()
    os.remove(sfile)
    secs = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{name}: the command failed with status {p.returncode}")
    with open(tfile) as f:
        peak_mb = int(f.read().split()[-1]) / 1024
    os.remove(tfile)
    with open(os.path.join(out, "stdout.txt"), "w") as f:
        f.write(stdout)
    with open(os.path.join(out, "stderr.txt"), "w") as f:
        f.writelines(log)
    t = load_times()
    t[name] = {"seconds": secs, "peak_mb": peak_mb, "command": " ".join(
        ["evoprune", "run"] + ([config] if config else [])),
        "trained_baseline": any(("trained and cached" in l or "trained again" in l) for l in log)}
    save_times(t)
    return secs, peak_mb


def folder(name):
    d = os.path.join(RUNS, name)
    if not os.path.exists(os.path.join(d, "COMPLETE")):
        sys.exit(f"{d}: no finished run; rerun the block without --render-only")
    return d


def load(name, file):
    with open(os.path.join(folder(name), file)) as f:
        return json.load(f)


def timing(name):
    return load_times().get(name, {"seconds": float("nan"), "peak_mb": float("nan")})


# ---------------------------------------------------------------------------------------------
# formatting


def mmss(s):
    if s != s:  # NaN: no timing recorded (rendered from a folder this script did not run)
        return "n/a"
    s = int(round(s))
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


def pct(v, d=2):
    return f"{100 * v:.{d}f}%"


def thousands(n):
    return f"{n:,}"


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join("---" for _ in head) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# MO-EvoPruneDeepTL


def pick_by_band(members, bands):
    """For each upper bound on the active fraction, the member with the best validation accuracy
    at or below it (validation drove the search; test is only reported)."""
    chosen = []
    for b in bands:
        ok = [m for m in members if m["active_fraction"] <= b + 1e-12]
        if ok:
            m = max(ok, key=lambda m: (m["val_accuracy"], -m["active"]))
            if m not in chosen:
                chosen.append(m)
    return sorted(chosen, key=lambda m: m["active"])


def deeptl_rows(front, with_flops):
    b = front["baseline"]
    d = front["features"]
    rows = [["unpruned head", f"{d} (100%)", f"{b['test_accuracy']:.4f}", f"{b['test_auroc']:.4f}",
             thousands(b["params"])] + ([thousands(2 * b["macs"])] if with_flops else [])]
    return rows


def deeptl_member_row(m, with_flops):
    frac = m["active_fraction"]
    share = f"{100 * frac:.2g}%" if frac < 0.01 else f"{100 * frac:.1f}%".replace(".0%", "%")
    return [f"member {m['index']}", f"{m['active']} ({share})", f"{m['test_accuracy']:.4f}",
            f"{m['test_auroc']:.4f}", thousands(m["params"])] + (
        [thousands(2 * m["macs"])] if with_flops else [])


def hv_of_front(front):
    """Hypervolume of the validation objectives of the front (all minimised, reference 1)."""
    pts = [m["objectives"] for m in front["members"]]
    return hv(pts, [1.0] * len(pts[0])) if pts else 0.0


def hv(points, ref):
    """Exact hypervolume by inclusion over slices (small fronts only)."""
    pts = [p for p in points if all(x < r for x, r in zip(p, ref))]
    if not pts:
        return 0.0
    m = len(ref)
    if m == 1:
        return ref[0] - min(p[0] for p in pts)
    pts = sorted(pts, key=lambda p: p[-1])
    total = 0.0
    for i, p in enumerate(pts):
        top = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        if top > p[-1]:
            total += (top - p[-1]) * hv([q[:-1] for q in pts[: i + 1]], ref[:-1])
    return total


def render_deeptl_digits():
    front = load("deeptl-digits", "front.json")
    t = timing("deeptl-digits")
    ms = front["members"]
    chosen = pick_by_band(ms, [0.33, 0.55, 0.70])
    rows = deeptl_rows(front, False) + [deeptl_member_row(m, False) for m in chosen]
    act = [m["active"] for m in ms]
    return "\n".join([
        f"On 2 cores: **{front['search_seconds']:.1f} s of search, {t['seconds']:.1f} s for the whole "
        f"command**, {t['peak_mb']:.0f} MB peak memory. Rows: the unpruned head, then for each "
        "bound on the active pixels (33%, 55%, 70%) the member with the best validation accuracy "
        "within it.",
        "",
        table(["", "active pixels", "test accuracy", "test AUROC", "head params"], rows),
        "",
        f"The front has {len(ms)} members from {min(act)} to {max(act)} pixels; hypervolume of the "
        f"validation objectives (reference 1,1,1) {hv_of_front(front):.3f}; the unpruned head ran "
        f"{front['baseline']['epochs']} epochs. Most often kept pixels (members keeping them): "
        f"{key_features(folder('deeptl-digits'), 4)}.",
    ])


def key_features(d, n):
    import csv
    with open(os.path.join(d, "key_features.csv")) as f:
        rows = list(csv.DictReader(f))[:n]
    return ", ".join(f"{r['feature']} ({r['members']})" for r in rows)


def render_deeptl_mnist():
    front = load("deeptl-mnist", "front.json")
    t = timing("deeptl-mnist")
    ms = front["members"]
    chosen = pick_by_band(ms, [0.001, 0.011, 0.10, 0.17, 0.26, 0.37, 0.70])
    sources = [n for n, _ in front["baseline"].get("test_auroc_by_source", [])]
    by = lambda m: [f"{a:.4f}" for _, a in m.get("test_auroc_by_source", [])]
    rows = [r[:4] + by(front["baseline"]) + r[4:] for r in deeptl_rows(front, True)] + [
        r[:4] + by(m) + r[4:] for m, r in ((m, deeptl_member_row(m, True)) for m in chosen)]
    ens = ensembles(folder("deeptl-mnist"))
    lo = min(m["active_fraction"] for m in ms)
    hi = max(m["active_fraction"] for m in ms)
    return "\n".join([
        f"**Search {front['search_seconds']:.1f} s, whole command {mmss(t['seconds'])}** (features "
        f"extracted or read from the cache), {t['peak_mb']:.0f} MB peak memory. Rows: the unpruned "
        "head, then for each bound on the active features (0.1%, 1.1%, 10%, 17%, 26%, 37%, 70%) the "
        "member with the best validation accuracy within it.",
        "",
        table(["", "active features", "test accuracy", "test AUROC (all OoD)"]
              + [f"AUROC vs {n}" for n in sources] + ["head params", "head FLOPs"], rows),
        "",
        f"The front ({len(ms)} members) spans {100 * lo:.2g}% to {100 * hi:.3g}% active features; "
        f"hypervolume of the validation objectives (reference 1,1,1) {hv_of_front(front):.3f}. "
        f"Most often kept features (members keeping them): "
        f"{key_features(folder('deeptl-mnist'), 6)}. "
        "Ensembles on test (majority vote; AUROC of the mean ODIN score), windows over validation "
        "accuracy with at least two members:",
        "",
        ens,
    ])


def ensembles(d):
    import csv
    with open(os.path.join(d, "ensembles.csv")) as f:
        rows = list(csv.DictReader(f))
    out = []
    for r in rows:
        if not r.get("criterion", "").startswith("acc"):
            continue
        if int(r["members"]) < 2:
            continue
        out.append([r["window"], r["members"], r["ens_acc"], r["best_acc"], r["ens_auroc"],
                    r["best_auroc"]])
    return table(["window", "members", "ensemble acc", "best member acc", "ensemble AUROC",
                  "best member AUROC"], out)


# ---------------------------------------------------------------------------------------------
# GA pruning

GA_RUNS = [
    ("ga-balanced", "configs/lenet-ga-balanced.toml", "(0.3, 0.4, 0.3) `lenet-ga-balanced`",
     "0.93% / 6.22% / 94.30%"),
    ("ga-flops", "configs/lenet-ga-flops.toml", "(0.5, 0.5, 0) `lenet-ga-flops`",
     "0.87% / 6.10% / 71.63%"),
    ("ga-sparse", "configs/lenet-ga-sparse.toml", "(0.5, 0, 0.5) `lenet-ga-sparse`",
     "0.89% / 9.00% / 95.42%"),
    ("ga-accurate", "configs/lenet-ga-accurate.toml", "(0.8, 0.1, 0.1) `lenet-ga-accurate`",
     "0.85% / 8.16% / 91.00%"),
]


def render_ga():
    rows = []
    for name, _, label, paper in GA_RUNS:
        r = load(name, "result.json")
        m = r["members"][0]
        tm = timing(name)
        wall = mmss(tm["seconds"]) + (" (with the baseline's training)"
                                      if tm.get("trained_baseline") else "")
        rows.append([label, pct(m["test_error"]), pct(m["flops"]), pct(m["sparsity"]),
                     f"{m['filters'][0]} / {m['filters'][1]}", paper, wall])
    base = load(GA_RUNS[0][0], "result.json")["baseline_test_error"]
    peak = max(timing(n)["peak_mb"] for n, *_ in GA_RUNS)
    return "\n".join([
        table(["lambdas (e, c, 1-s)", "evoprune test error", "FLOPs", "sparsity", "kept filters",
               "paper: error / FLOPs / sparsity", "wall time (2 cores)"], rows),
        "",
        f"Baseline test error {pct(base)}; wall times include the search, the retraining and the "
        f"final stage (the baseline from the cache unless marked); {peak:.0f} MB peak memory.",
    ])


def render_ga_nsga2():
    r = load("ga-nsga2", "result.json")
    t = timing("ga-nsga2")
    ms = r["members"]
    s = r["seconds"]
    # the low-error end, chosen by validation error
    low = sorted(ms, key=lambda m: (m["val_error"], m["flops"]))[:5]
    low = sorted(low, key=lambda m: -m["flops"])
    rows = [[m["index"], pct(m["test_error"]), pct(m["flops"]), pct(m["sparsity"])] for m in low]
    pts = [[m["test_error"], m["flops"], 1 - m["sparsity"]] for m in ms]
    ga_pts = []
    ga_secs = 0.0
    for name, *_ in GA_RUNS:
        g = load(name, "result.json")["members"][0]
        ga_pts.append([g["test_error"], g["flops"], 1 - g["sparsity"]])
        ga_secs += timing(name)["seconds"]
    hv_rows = [
        [f"NSGA-II front ({len(ms)} members, one run)", f"{hv(pts, [1, 1, 1]):.4f}",
         f"{hv(pts, [0.02, 1, 1]):.5f}", mmss(t["seconds"])],
        ["the four GA results as a set (four runs)", f"{hv(ga_pts, [1, 1, 1]):.4f}",
         f"{hv(ga_pts, [0.02, 1, 1]):.5f}", mmss(ga_secs)],
    ]
    fl = [m["flops"] for m in ms]
    return "\n".join([
        f"A {len(ms)}-member front from {pct(min(fl))} to {pct(max(fl))} FLOPs in "
        f"{mmss(t['seconds'])} ({mmss(s[0])} of evolution, {mmss(s[1])} of retraining, "
        f"{mmss(s[2])} for the {len(ms)} final trainings). Its five members with the lowest "
        "validation error:",
        "",
        table(["front member", "test error", "FLOPs", "sparsity"], rows),
        "",
        table(["", "hypervolume, reference (1, 1, 1)", "reference (2% error, 1, 1)", "wall time"],
              hv_rows),
    ])


# ---------------------------------------------------------------------------------------------
# surrogate-assisted compression


def render_surrogate():
    r = load("surrogate", "result.json")
    n = load("surrogate-nsga2", "result.json")
    t, tn = timing("surrogate"), timing("surrogate-nsga2")
    by_seed = {s["seed"]: s["surrogate"] for s in n["seeds"]}
    rows = []
    for s in r["seeds"]:
        su, re_, sn = s["surrogate"], s.get("real"), by_seed[s["seed"]]
        sp = lambda res: min((m["nonzero"] for m in res["front"]), default=float("nan"))
        hs, hr, hn = su["hypervolume"], (re_["hypervolume"] if re_ else float("nan")), sn["hypervolume"]
        best = max(hs, hr, hn)
        bold = lambda v: f"**{v:.4f}**" if v == best else f"{v:.4f}"
        rows.append([s["seed"], bold(hs), bold(hn), bold(hr),
                     f"{100 * sp(su):.2f}% non-zero" + (" (ended early)" if su.get("stopped") else ""),
                     f"{100 * sp(sn):.2f}%", f"{100 * sp(re_):.2f}%" if re_ else ""])
    a, b, c = r["hv_surrogate"], r.get("hv_real"), n["hv_surrogate"]
    rng = lambda x: f"{x['median']:.4f} ({x['min']:.4f}-{x['max']:.4f})"
    rows.append(["**median (range)**", rng(a), rng(c), rng(b) if b else "", "", "", ""])
    ct_wins = sum(1 for s in r["seeds"] if s["surrogate"]["hypervolume"] > by_seed[s["seed"]]["hypervolume"])
    ties = sum(1 for s in r["seeds"] if s["surrogate"]["hypervolume"] == by_seed[s["seed"]]["hypervolume"])
    return "\n".join([
        f"Seeds {r['seeds'][0]['seed']}-{r['seeds'][-1]['seed']}: the C-TAEA surrogate searches "
        f"and the real searches take {mmss(t['seconds'])} on 2 cores ({t['peak_mb']:.0f} MB peak "
        f"memory), the NSGA-II surrogate searches {mmss(tn['seconds'])}.",
        "",
        table(["seed", "hypervolume, surrogate (C-TAEA)", "surrogate (NSGA-II)", "real (NSGA-II)",
               "sparsest feasible member: C-TAEA", "NSGA-II", "real"], rows),
        "",
        f"The surrogate-assisted front (C-TAEA) is better than the real search's on "
        f"{r['surrogate_wins']} of {len(r['seeds'])} seeds, and better than the surrogate-assisted "
        f"front with NSGA-II on {ct_wins} ({ties} equal). {r['flagged']} reported front members "
        "of the C-TAEA run fall below the floor on the test set (flagged in `fronts.csv`, not "
        "hidden).",
    ])


# ---------------------------------------------------------------------------------------------
# hierarchical pruning

HIER_RUNS = [("hier-lenet300", "configs/lenet300-hierarchical.toml", "LeNet-300-100"),
             ("hier-lenet", "configs/lenet-hierarchical.toml", "LeNet")]


def render_hierarchical():
    rows = []
    for name, cfg, label in HIER_RUNS:
        r = load(name, "result.json")
        t = timing(name)
        ps = r["phase_seconds"]
        rows.append([f"{label}, `{cfg}`", f"{ps[0]:.0f} s", f"{ps[1]:.0f} s",
                     mmss(t["seconds"]), f"{t['peak_mb']:.0f} MB",
                     f"{r['hypervolume'][0]:.4f} / {r['hypervolume'][1]:.4f} / "
                     f"**{r['hypervolume'][2]:.4f}**"])
    return table(["network", "phase 1", "phase 2", "total", "peak memory",
                  "hypervolume (validation, reference 1): phase 1 / phase 2 / both"], rows)


# ---------------------------------------------------------------------------------------------

BLOCKS = {
    "deeptl-digits": ([("deeptl-digits", None)], render_deeptl_digits),
    "deeptl-mnist": ([("deeptl-mnist", "configs/mnist-efficientnet.toml")], render_deeptl_mnist),
    "ga": ([(n, c) for n, c, *_ in GA_RUNS], render_ga),
    "ga-nsga2": ([("ga-nsga2", "configs/lenet-nsga2.toml")], render_ga_nsga2),
    "surrogate": ([("surrogate", "configs/lenet-surrogate.toml"),
                   ("surrogate-nsga2", "configs/lenet-surrogate-nsga2.toml")], render_surrogate),
    "hierarchical": ([(n, c) for n, c, _ in HIER_RUNS], render_hierarchical),
}


def rewrite(name, body):
    with open(README) as f:
        text = f.read()
    pat = re.compile(rf"(<!-- results:{re.escape(name)} -->\n).*?(\n<!-- /results:{re.escape(name)} -->)",
                     re.S)
    if not pat.search(text):
        sys.exit(f"README.md has no block <!-- results:{name} --> ... <!-- /results:{name} -->")
    runs = ", ".join(f"`evoprune run {c or ''}`".replace(" `", "`") for _, c in BLOCKS[name][0])
    stamp = f"<!-- generated by `python3 scripts/results.py {name}` from {runs} -->\n"
    text = pat.sub(lambda m: m.group(1) + stamp + body + m.group(2), text)
    with open(README + ".partial", "w") as f:
        f.write(text)
    os.replace(README + ".partial", README)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("blocks", nargs="*")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--list", action="store_true")
    a = ap.parse_args()
    if a.list or not a.blocks:
        for k, (runs, _) in BLOCKS.items():
            print(k + ": " + ", ".join(f"evoprune run {c or ''}".strip() for _, c in runs))
        return
    names = list(BLOCKS) if a.blocks == ["all"] else a.blocks
    for n in names:
        if n not in BLOCKS:
            sys.exit(f"unknown block {n}; known: {', '.join(BLOCKS)}")
    if not a.render_only and not os.path.exists(BIN):
        sys.exit(f"{BIN} is missing: cargo build --release -p evoprune-cli")
    for n in names:
        runs, render = BLOCKS[n]
        if not a.render_only:
            for run_name, cfg in runs:
                run(run_name, cfg)
        rewrite(n, render())
        print(f"rewrote the README block {n}", file=sys.stderr)


if __name__ == "__main__":
    main()
