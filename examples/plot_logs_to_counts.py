"""
=======================================
From log lines to per-minute log counts
=======================================

Mine Drain templates from log lines, count each template per minute on a given time
index, add per-service trace statistics, and put everything on one channel table with
its modalities, ready for a multimodal detector; plot the log lines per minute by template.

Runs on a small synthetic service log so it needs no data download.
"""

# %%
# Synthetic logs and spans over ten minutes
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from skanomaly.preprocessing import (
    DrainTemplates,
    TraceWindowStats,
    align_channels,
    count_per_bin,
    relation_graph,
)

rng = np.random.default_rng(0)
n = 2000
times = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.uniform(0, 600, n)), unit="s")
kinds = rng.choice(3, n, p=[0.7, 0.2, 0.1])
lines = [
    [f"GET /api/items/{rng.integers(1000)} 200 in {rng.integers(1, 50)} ms",
     f"cache miss for key user:{rng.integers(100)} on 10.0.0.{rng.integers(1, 9)}",
     f"timeout after {rng.integers(1000, 5000)} ms calling payment-service"][k]
    for k in kinds
]

# %%
# Templates: fit once, then map lines to template ids
drain = DrainTemplates().fit(lines)
print(drain.templates_)
ids = drain.transform(lines)

# %%
# Counts per minute, on the metrics' index
index = pd.date_range("2024-01-01", periods=10, freq="60s")
counts = count_per_bin(times, ids, freq="60s", index=index,
                       categories=list(drain.templates_["template_id"]) + [-1])
print(counts.head())

# %%
# Trace statistics per minute and service
spans = pd.DataFrame({"start": times, "duration": rng.exponential(0.05, n),
                      "service": rng.choice(["api", "payment"], n),
                      "status_code": rng.choice([200, 500], n, p=[0.98, 0.02])})
traces = TraceWindowStats(index=index, status_col="status_code").fit(spans).transform(spans)

# %%
# One channel table, with each channel's modality, and the NMI relation graph
cpu = pd.DataFrame({"cpu": rng.uniform(0.2, 0.6, 10)}, index=index + pd.Timedelta("7s"))
X, modality = align_channels(cpu, counts, traces, index=index)
print(X.shape, modality.value_counts().to_dict())
graph = relation_graph(X, modality, n_bins=3)
print(graph["metric-log"].round(2))

# %%
# The log channels per minute, one bar segment per template
names = dict(zip(drain.templates_["template_id"], drain.templates_["template"]))
fig, ax = plt.subplots(figsize=(10, 3.5))
bottom = np.zeros(len(counts))
for column in counts.columns:
    template_id = int(column.removeprefix("log_"))
    ax.bar(counts.index.strftime("%H:%M"), counts[column], bottom=bottom,
           label=names.get(template_id, "unseen template"))
    bottom += counts[column].to_numpy()
ax.set_xlabel("minute")
ax.set_ylabel("log lines")
ax.set_title("Log lines per minute by Drain template")
ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1), title="template")
fig.tight_layout()
plt.show()
