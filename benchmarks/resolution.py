"""Record-resolution benchmark: the engine (``approval-bridge dedup``) beside a rule pipeline written by hand.

For each size, a generator writes labelled cases (re-entries with typos and blank item codes, double typing,
packages on one day, renewals months later, namesakes, sister companies); then the ``dedup`` command and the rule
pipeline (``benchmarks/rule_pipeline.py``: pandas + rapidfuzz, blocking on identity number, phone and name pinyin,
importing nothing of the bridge) each run in a fresh process on the same CSV. Per process: CPU seconds (user +
system, all threads, from ``wait4``), wall seconds and peak memory (max RSS); both are scored by pairwise
precision, recall and F1 against the ground truth, and the engine's CPU is printed as a share of the pipeline's.

    .venv/bin/python benchmarks/resolution.py                  # 20k, 100k and 1M records
    .venv/bin/python benchmarks/resolution.py 20000            # one size
    .venv/bin/python benchmarks/resolution.py --independent    # data from benchmarks/independent_cases.py, a
                                                               # generator written without sight of the sandbox's
    .venv/bin/python benchmarks/resolution.py --hard 20000     # data from benchmarks/hard_cases.py: the hard
                                                               # negatives (packages, change after establishment,
                                                               # cancellations, renewals, namesakes, siblings),
                                                               # scored per shape as well
    .venv/bin/python benchmarks/resolution.py --data-dir /tmp/sets 1000000   # keep the generated sets there and
                                                               # reuse them (a 1M set takes minutes to generate)
    .venv/bin/python benchmarks/resolution.py --exact-key      # also the exact-key rule (identifier, item, day)
    .venv/bin/python benchmarks/resolution.py --skip-rules     # the engine alone
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from resolution.features import prepare  # noqa: E402
from sandbox.canonical import canonical_cases  # noqa: E402
from sandbox.generator import GeneratorConfig, generate  # noqa: E402
from schemas.case import DEDUP_COLUMNS  # noqa: E402

RECORDS_PER_CASE = 2.1  # measured on the generator: packages add cases; department records, re-entries, double typing


def labelled_cases(records: int, seed: int = 11) -> pd.DataFrame:
    days = max(30, min(365, records // 2500))
    per_day = int(records / RECORDS_PER_CASE / days)
    config = GeneratorConfig(
        start=dt.date(2025, 1, 1), days=days, cases_per_day=per_day, seed=seed, undecodable_health_file=False
    )
    return canonical_cases(generate(config))


def pair_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise precision/recall without listing pairs: count pairs inside (predicted ∩ true) clusters."""

    def pairs(*keys: np.ndarray) -> int:
        sizes = pd.DataFrame({f"k{i}": k for i, k in enumerate(keys)}).value_counts().to_numpy()
        return int((sizes * (sizes - 1) // 2).sum())

    both, found, actual = pairs(predicted, truth), pairs(predicted), pairs(truth)
    precision = both / found if found else 1.0
    recall = both / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": actual}


def exact_key_baseline(cases: pd.DataFrame) -> np.ndarray:
    """The simplest rule: same normalised identifier, same item code, same submission day."""
    features = prepare(cases)
    key = (
        features["id_norm"].fillna("uid:" + features["uid"].astype(str))
        + "|"
        + features["item_key"].fillna("?")
        + "|"
        + features["submitted_date"].astype(str)
    )
    return pd.factorize(key)[0]


def measured(command: list[str]) -> dict[str, float]:
    """Run ``command`` in a fresh process (cwd: this checkout); its CPU seconds (user + system, every thread),
    wall seconds and peak memory (max RSS, MB), from the kernel's accounting of that one process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise subprocess.CalledProcessError(process.returncode, command)
    return {
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "wall_s": time.perf_counter() - started,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def compile_sources() -> None:
    """Byte-compile this checkout once, so neither process measures Python compiling its sources (as it does on
    every start where ``PYTHONDONTWRITEBYTECODE`` is set and nothing was compiled before)."""
    folders = [p for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()] + [ROOT / "benchmarks"]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, folders)], check=True, capture_output=True)


def run_engine(input_path: Path, output_path: Path) -> dict[str, float]:
    """``approval-bridge dedup`` of this checkout (``python -m cli.main``, so the code measured is the code here)."""
    return measured(
        [sys.executable, "-m", "cli.main", "dedup", "--input", str(input_path), "--output", str(output_path)]
    )


def run_rules(input_path: Path, output_path: Path) -> dict[str, float]:
    script = ROOT / "benchmarks" / "rule_pipeline.py"
    return measured([sys.executable, str(script), "--input", str(input_path), "--output", str(output_path)])


def by_shape(shape: pd.Series, predicted: np.ndarray, truth: np.ndarray) -> pd.DataFrame:
    """Pairwise precision and recall per shape of case (the generator's tag): recall over the true pairs of cases
    of that shape; precision over the predicted pairs that touch a record of that shape (a false merge of a package
    item with a single case counts against both shapes)."""
    frame = pd.DataFrame({"cluster": pd.factorize(predicted)[0], "truth": truth, "shape": shape.to_numpy()})
    frame["row"] = np.arange(len(frame))
    sizes = frame.groupby("cluster")["row"].transform("size")
    linked = frame[sizes > 1]
    pairs = linked.merge(linked, on="cluster", suffixes=("_l", "_r"))
    pairs = pairs[pairs["row_l"] < pairs["row_r"]]
    pairs = pairs.assign(correct=pairs["truth_l"] == pairs["truth_r"])
    true_sizes = frame.groupby(["truth", "shape"]).size()
    true_pairs = (true_sizes * (true_sizes - 1) // 2).groupby(level="shape").sum()
    rows = []
    for name in sorted(frame["shape"].dropna().unique()):
        touching = pairs[(pairs["shape_l"] == name) | (pairs["shape_r"] == name)]
        found_true = int((touching["correct"] & (touching["shape_l"] == name)).sum())
        rows.append(
            {
                "shape": name,
                "cases": int(frame.loc[frame["shape"] == name, "truth"].nunique()),
                "true_pairs": int(true_pairs.get(name, 0)),
                "predicted_pairs": len(touching),
                "false_merges": int((~touching["correct"]).sum()),
                "precision": touching["correct"].mean() if len(touching) else 1.0,
                "recall": found_true / true_pairs[name] if true_pairs.get(name, 0) else 1.0,
            }
        )
    return pd.DataFrame(rows)


def hard_cases(records: int, seed: int = 17) -> pd.DataFrame:
    """Labelled cases with a shape per case from ``benchmarks/hard_cases.py`` (written without sight of the
    engine): packages, change after establishment, cancellations, renewals, namesakes, siblings."""
    return generated_cases("hard_cases.py", records, seed)


def independent_cases(records: int, seed: int = 3) -> pd.DataFrame:
    """Labelled cases from the independently written generator (its own systems, items, codes and typos)."""
    return generated_cases("independent_cases.py", records, seed)


def generated_cases(script: str, records: int, seed: int) -> pd.DataFrame:
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, truth_path = Path(tmp) / "cases.csv", Path(tmp) / "truth.csv"
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / script),
                "--records",
                str(records),
                "--seed",
                str(seed),
                "--output",
                str(cases_path),
                "--truth",
                str(truth_path),
            ],
            check=True,
            capture_output=True,
        )
        cases = pd.read_csv(cases_path, dtype=str, keep_default_na=False)
        truth = pd.read_csv(truth_path, dtype=str)
    return cases.merge(truth, on=["source_system", "source_record_id"])


def labelled_set(records: int, data: str, folder: Path) -> tuple[Path, pd.DataFrame]:
    """The input CSV and its truth (true_case_id, and shape for the hard set), generated once into ``folder``."""
    input_path, truth_path = folder / f"{data}_{records}.csv", folder / f"{data}_{records}_truth.csv"
    if not (input_path.exists() and truth_path.exists()):
        cases = {"independent": independent_cases, "hard": hard_cases, "sandbox": labelled_cases}[data](records)
        cases[list(DEDUP_COLUMNS)].to_csv(input_path, index=False)
        cases[[c for c in ("true_case_id", "shape") if c in cases]].to_csv(truth_path, index=False)
    return input_path, pd.read_csv(truth_path, dtype=str)


def benchmark(
    records: int, data: str = "sandbox", *, folder: Path, rules: bool = True, exact_key: bool = False
) -> tuple[list[dict], pd.DataFrame | None]:
    input_path, truth_frame = labelled_set(records, data, folder)
    truth = truth_frame["true_case_id"].to_numpy()
    rows, shapes = [], None
    runs = {"engine (dedup command)": run_engine}
    if rules:
        runs["rule pipeline (pandas + rapidfuzz)"] = run_rules
    with tempfile.TemporaryDirectory() as tmp:
        for method, run in runs.items():
            output_path = Path(tmp) / "clusters.csv"
            cost = run(input_path, output_path)
            clusters = pd.read_csv(output_path, dtype=str)
            assert len(clusters) == len(truth), f"{method} dropped rows"
            predicted = clusters["cluster_id"].to_numpy()
            rows.append(
                {"data": data, "records": len(truth), "method": method, **pair_scores(predicted, truth), **cost}
            )
            if method.startswith("engine") and "shape" in truth_frame:
                shapes = by_shape(truth_frame["shape"], predicted, truth).assign(records=len(truth))
            output_path.unlink()
    if exact_key:
        cases = pd.read_csv(input_path, dtype=str, keep_default_na=False)
        started = resource.getrusage(resource.RUSAGE_SELF)
        wall = time.perf_counter()
        predicted = exact_key_baseline(cases)
        ended = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (ended.ru_utime - started.ru_utime) + (ended.ru_stime - started.ru_stime)
        rows.append(
            {
                "data": data,
                "records": len(truth),
                "method": "exact-key rule (in process)",
                **pair_scores(predicted, truth),
                "cpu_s": cpu,
                "wall_s": time.perf_counter() - wall,
                "peak_mb": float("nan"),
            }
        )
    return rows, shapes


def ratios(rows: list[dict]) -> str:
    """Per size, the engine's CPU, wall time and peak memory as a share of the rule pipeline's."""
    frame = pd.DataFrame(rows)
    lines = []
    for (data, records), run in frame.groupby(["data", "records"], sort=False):
        engine = run[run["method"].str.startswith("engine")]
        rules = run[run["method"].str.startswith("rule pipeline")]
        if len(engine) and len(rules):
            e, r = engine.iloc[0], rules.iloc[0]
            lines.append(
                f"{data} {records:,} records: engine / rule pipeline = {e['cpu_s'] / r['cpu_s']:.2f}x CPU "
                f"({e['cpu_s']:.1f} s / {r['cpu_s']:.1f} s), {e['wall_s'] / r['wall_s']:.2f}x wall, "
                f"{e['peak_mb'] / r['peak_mb']:.2f}x peak memory ({e['peak_mb'] / 1024:.2f} GB / "
                f"{r['peak_mb'] / 1024:.2f} GB)"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    data = "hard" if "--hard" in argv else "independent" if "--independent" in argv else "sandbox"
    folder = Path(argv[argv.index("--data-dir") + 1]) if "--data-dir" in argv else None
    sizes = [int(a) for a in argv if a.isdigit()] or [20_000, 100_000, 1_000_000]
    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC")
    compile_sources()
    rows, shapes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            found, per_shape = benchmark(
                size,
                data,
                folder=folder or Path(tmp),
                rules="--skip-rules" not in argv,
                exact_key="--exact-key" in argv,
            )
            rows.extend(found)
            if per_shape is not None:
                shapes.append(per_shape)
            print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)
            print(ratios(rows), flush=True)
            if shapes:
                print("\nby shape of case (engine):")
                print(pd.concat(shapes).to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
