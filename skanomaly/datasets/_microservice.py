"""Generator of raw microservice telemetry (metrics, logs, spans) with labelled faults.

One model drives every channel: a frontend's daily load flows down a call graph of
services; each service's CPU follows its request rate, its own latency follows its CPU
utilisation (queueing), a caller's latency adds its callees', log volume follows load
and error rate, and traced requests walk the call graph with those latencies. A fault
changes a driver of that model (CPU, memory, delay, errors, load, template mix), so
what it changes downstream is what the model says, not a painted-on bump.
"""

from numbers import Integral

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from sklearn.utils import Bunch, check_random_state

from ..utils._compat import Interval, validate_params
from ._faults import fault_labels

__all__ = ["make_microservice_telemetry", "FAULT_TYPES", "CROSS_MODAL_FAULT_TYPES"]

#: Fault types of :func:`make_microservice_telemetry`; the last three are cross-modal.
FAULT_TYPES = ("cpu_hog", "memory_leak", "network_delay", "exception_burst",
               "log_mix_shift", "latency_throughput_break", "joint_drift")
#: Fault types that keep every channel within its normal range.
CROSS_MODAL_FAULT_TYPES = FAULT_TYPES[4:]

METRIC_NAMES = ("cpu_usage", "memory_usage", "network_receive_bytes",
                "network_transmit_bytes", "request_rate", "latency_mean", "latency_p95",
                "error_rate")

_NAMES = ("cart", "checkout", "payment", "shipping", "currency", "catalog",
          "recommendation", "email", "ad", "auth", "user", "order", "inventory", "search",
          "review", "notification", "pricing", "session", "profile", "media", "geo",
          "coupon", "wallet", "ticket")
_HASH = np.array(list("bcdfghjklmnpqrstvwxz2456789"))
_MINUTE_NS = 60_000_000_000

# Log templates: {res} / {child} / {verb} / {cls} are filled once per service, <X> per line.
_NORMAL_TEMPLATES = (
    "INFO  Received {verb} /api/v1/{res}/<ID> from <IP>",
    "INFO  Completed {verb} /api/v1/{res} status=200 in <MS> ms",
    "INFO  User <USER> authenticated, session <UUID>",
    "INFO  Query on table {res}_items returned <INT> rows in <MS> ms",
    "INFO  Published event <UUID> to topic {res}-events",
    "INFO  Heartbeat ok, uptime <INT> s",
    "DEBUG Cache hit for key {res}:<ID>",
    "DEBUG Cache miss for key {res}:<ID>, loading from store",
    "DEBUG Connection pool stats: active=<INT> idle=<INT>",
    "DEBUG Parsed request body of <INT> bytes",
    "DEBUG Calling {child} at <IP>:<PORT>",
)
_SLOW = "WARN  Slow request {verb} /api/v1/{res} took <MS> ms"
_BENIGN_WARN = ("WARN  Retrying call to {child} (attempt <INT> of 3)",
                "WARN  Deprecated header X-Client-Version from <IP>")
_GC = "WARN  GC pause <MS> ms, heap used <INT>%"
_ERRORS = ("ERROR Request <UUID> failed: {exc} at com.shop.{res}.{cls}.handle({cls}.java:<INT>)",
           "ERROR Internal error processing {res} <ID>: {exc}")
_STACK = "    at com.shop.{res}.{cls}.process({cls}.java:<INT>)"
_UPSTREAM = "WARN  Call to {child} took <MS> ms, over the timeout budget"
_EXCEPTIONS = ("java.lang.NullPointerException", "java.lang.IllegalStateException",
               "java.util.concurrent.TimeoutException", "java.sql.SQLTransientException")


def _hash(rng, size):
    return "".join(rng.choice(_HASH, size=size))


def _build_system(n_services, rng):
    """Services, pods, call graph (a DAG rooted at the frontend) and per-service constants."""
    names = ["frontend"] + [
        f"{_NAMES[i % len(_NAMES)]}{'' if i < len(_NAMES) else i // len(_NAMES) + 1}-service"
        for i in range(n_services - 1)]
    pods = [f"{s}-{_hash(rng, rng.randint(8, 11))}-{_hash(rng, 5)}" for s in names]
    calls = np.zeros((n_services, n_services))  # calls[p, c]: calls to c per request of p
    for c in range(1, n_services):
        parent = rng.randint(max(0, c - 3), c)  # recent parents give the graph depth
        calls[parent, c] = rng.uniform(0.4, 1.2)
        if c > 1 and rng.rand() < 0.25:
            other = rng.randint(0, c)
            if other != parent:
                calls[other, c] = rng.uniform(0.2, 0.6)
    S = n_services
    sysd = Bunch(
        services=names, pods=pods, calls=calls,
        cpu_idle=rng.uniform(20, 80, S), cpu_load=rng.uniform(150, 400, S),
        cpu_limit=np.full(S, 1000.0), lat_base=rng.uniform(0.005, 0.04, S),
        p95_ratio=rng.uniform(1.6, 2.4, S), mem_base=rng.uniform(200, 800, S),
        req_bytes=rng.uniform(500, 5000, S), resp_bytes=rng.uniform(1000, 20000, S),
        err_base=rng.uniform(0.0005, 0.003, S), log_scale=rng.uniform(0.5, 1.5, S),
        resource=[n.replace("-service", "") for n in names],
    )
    return sysd


def _ar1(rng, n, k, phi, std):
    """k independent AR(1) series (x_t = phi x_{t-1} + e_t) of stationary std ``std``."""
    eps = rng.normal(scale=std * np.sqrt(1 - phi ** 2), size=(n, k))
    eps[0] = rng.normal(scale=std, size=k)  # start in the stationary distribution
    return lfilter([1.0], [1.0, -phi], eps, axis=0)


def _expected(sysd, drivers, mods):
    """Noise-free per-minute state of every service under ``mods`` (fault effects)."""
    calls, S = sysd.calls, len(sysd.services)
    rate = np.zeros_like(drivers.own_noise)
    rate[:, 0] = drivers.front * drivers.own_noise[:, 0] * mods.rate_mult[:, 0]
    for c in range(1, S):  # services are in topological order
        rate[:, c] = rate @ calls[:, c] * drivers.own_noise[:, c] * mods.rate_mult[:, c]
    mean_rate = drivers.mean_rate
    cpu = sysd.cpu_idle + sysd.cpu_load * rate / mean_rate + mods.cpu_add
    rho = np.clip(cpu / sysd.cpu_limit, 0, 0.95)
    own = sysd.lat_base * (1 + 0.8 * rho / (1 - rho))
    own = own + mods.delay
    lat = own.copy()
    err_own = sysd.err_base + mods.err_add
    err = err_own.copy()
    for p in range(S - 1, -1, -1):  # callees first
        kids = np.flatnonzero(calls[p])
        if len(kids):
            lat[:, p] += lat[:, kids] @ calls[p, kids]
            keep = np.prod(1 - 0.5 * np.minimum(calls[p, kids], 1) * err[:, kids], axis=1)
            err[:, p] = 1 - (1 - err[:, p]) * keep
        # a latency floor (latency_throughput_break) is time the pod spends itself
        extra = np.maximum(mods.lat_floor[:, p] - lat[:, p], 0)
        own[:, p] += extra
        lat[:, p] += extra
    mem = sysd.mem_base * (1 + 0.1 * (rate / mean_rate - 1)) * drivers.mem_noise + mods.mem_add
    rx = rate * 60 * (sysd.req_bytes + calls @ sysd.resp_bytes)
    tx = rate * 60 * (sysd.resp_bytes + calls @ sysd.req_bytes)
    return Bunch(rate=rate, cpu=cpu, own=own, lat=lat, err=np.clip(err, 0, 1),
                 err_own=np.clip(err_own, 0, 1), mem=mem, rx=rx, tx=tx)


def _no_mods(n, S):
    z = np.zeros((n, S))
    return Bunch(rate_mult=np.ones((n, S)), cpu_add=z.copy(), lat_floor=z.copy(),
                 delay=z.copy(), err_add=z.copy(), mem_add=z.copy(), gc=z.copy(), mix=[])


def _schedule(n_minutes, n_train, n_faults, types, duration, gap, S, rng):
    if n_faults == 0:
        return []
    lo, hi = duration
    lengths = rng.randint(lo, hi + 1, size=n_faults)
    free = n_minutes - n_train
    need = int(lengths.sum()) + gap * max(n_faults - 1, 0)
    if need > free:
        raise ValueError(
            f"{n_faults} faults of {lo}-{hi} minutes with min_gap={gap} need {need} minutes "
            f"after the {n_train} training minutes, but only {free} remain; lower n_faults, "
            "fault_duration or min_gap, or raise n_minutes."
        )
    slack = free - need
    gaps = rng.multinomial(slack, np.full(n_faults + 1, 1.0 / (n_faults + 1)))
    starts = n_train + np.cumsum(gaps[:-1]) + np.concatenate(
        [[0], np.cumsum(lengths[:-1] + gap)]).astype(int)
    kinds = [types[i] for i in np.concatenate(
        [rng.permutation(len(types)) for _ in range(n_faults // len(types) + 1)])[:n_faults]]
    targets = rng.randint(0, S, size=n_faults)
    return [(int(s), int(s + d), k, int(j)) for s, d, k, j in zip(starts, lengths, kinds, targets)]


def _apply_faults(schedule, normal, sysd, mods, rng):
    """Fill ``mods`` with each fault's effect; cross-modal ones stay in the normal range."""
    ramp = lambda m: np.minimum(1.0, np.arange(1, m + 1) / 3.0)  # noqa: E731  3-min onset
    median_rate = np.median(normal.rate, axis=0)
    for s, e, kind, j in schedule:
        sl, m = slice(s, e), e - s
        if kind == "cpu_hog":
            mods.cpu_add[sl, j] += rng.uniform(0.35, 0.6) * sysd.cpu_limit[j] * ramp(m)
        elif kind == "memory_leak":
            frac = np.arange(1, m + 1) / m
            mods.mem_add[sl, j] += rng.uniform(0.6, 1.2) * sysd.mem_base[j] * frac
            mods.gc[sl, j] = frac
        elif kind == "network_delay":
            mods.delay[sl, j] += rng.uniform(0.08, 0.3) * ramp(m)
        elif kind == "exception_burst":
            mods.err_add[sl, j] += rng.uniform(0.05, 0.2) * ramp(m)
        elif kind == "log_mix_shift":
            mods.mix.append((s, e, j, rng.uniform(0.5, 0.8)))
        elif kind == "latency_throughput_break":
            lo_rate = np.quantile(normal.rate[:, j], 0.02)
            mult = np.maximum(rng.uniform(0.6, 0.75), lo_rate / normal.rate[sl, j])
            mods.rate_mult[sl, j] = np.minimum(mult, 1.0)
            hi_lat = np.quantile(normal.lat[:, j], 0.98)
            mods.lat_floor[sl, j] = np.minimum(normal.lat[sl, j] * rng.uniform(1.3, 1.8),
                                               hi_lat)
        else:  # joint_drift: towards the middle of each channel's range, clipped to it
            step = (1.0 if normal.rate[s, j] < median_rate[j] else -1.0) * rng.uniform(
                0.25, 0.4) * ramp(m)
            for key, add in (("cpu", "cpu_add"), ("mem", "mem_add")):
                ref = getattr(normal, key)[:, j]
                lo, hi = np.quantile(ref, [0.01, 0.99])
                swing = np.quantile(ref, 0.95) - np.quantile(ref, 0.05)
                moved = np.clip(ref[sl] + step * swing, lo, hi)
                getattr(mods, add)[sl, j] += moved - ref[sl]
    return mods


def _fill(template, values):
    """Per-line strings: ``template`` with each <X> replaced from ``values[X]``."""
    parts = template.split("<")
    out = np.full(len(next(iter(values.values()))), parts[0], dtype=object)
    for part in parts[1:]:
        key, rest = part.split(">", 1)
        out = out + values[key] + rest
    return out


def _ints(x):
    """Integers -> object array of their decimal strings."""
    return np.array(list(map(str, np.asarray(x).tolist())), dtype=object)


def _line_values(template, minute, lat_ms, rng):
    """Random variable parts for every <X> of ``template``; durations follow latency."""
    k = len(minute)
    vals = {"_": np.empty(k, dtype=object)}
    if "<ID>" in template:
        vals["ID"] = _ints(rng.randint(10_000, 10_000_000, size=k))
    if "<UUID>" in template:
        vals["UUID"] = _hex_ids(rng, k, 16)
    if "<IP>" in template:
        vals["IP"] = "10." + _ints(rng.randint(0, 256, size=k)) + "." + _ints(
            rng.randint(0, 256, size=k)) + "." + _ints(rng.randint(0, 256, size=k))
    if "<PORT>" in template:
        vals["PORT"] = _ints(rng.randint(8000, 9000, size=k))
    if "<INT>" in template:
        vals["INT"] = _ints(rng.randint(1, 500, size=k))
    if "<USER>" in template:
        vals["USER"] = "user" + _ints(rng.randint(1, 50_000, size=k))
    if "<MS>" in template:
        vals["MS"] = _ints(np.ceil(lat_ms[minute] * rng.lognormal(0, 0.3, size=k)).astype(int))
    del vals["_"]
    if not vals:
        vals["_"] = np.full(k, "", dtype=object)
    return vals


def _service_templates(j, sysd, rng):
    """Normal templates (with base weights) and the event templates of service ``j``."""
    res, verb = sysd.resource[j], rng.choice(["GET", "POST"])
    kids = np.flatnonzero(sysd.calls[j])
    child = sysd.services[kids[0]] if len(kids) else None
    cls = res.capitalize() + "Handler"
    pool = [t for t in _NORMAL_TEMPLATES if child or "{child}" not in t]
    chosen = rng.choice(len(pool), size=rng.randint(6, min(9, len(pool)) + 1), replace=False)
    fill = dict(res=res, verb=verb, child=child, cls=cls, exc=rng.choice(_EXCEPTIONS))
    normal = [pool[i].format(**fill) for i in sorted(chosen)]
    weights = rng.dirichlet(np.full(len(normal), 2.0))
    warn = _BENIGN_WARN[0] if child else _BENIGN_WARN[1]
    return Bunch(normal=normal, weights=weights, slow=_SLOW.format(**fill),
                 warn=warn.format(**fill), gc=_GC, errors=[t.format(**fill) for t in _ERRORS],
                 stack=_STACK.format(**fill),
                 upstream={int(c): _UPSTREAM.format(child=sysd.services[c]) for c in kids})


def _log_counts(j, tpl, state, normal, mods, mean_lines, delay_seen):
    """Expected lines per minute of each template of service ``j``: (templates, rates)."""
    n = state.rate.shape[0]
    volume = mean_lines * state.rate[:, j] / normal.rate[:, j].mean()
    w = np.tile(tpl.weights, (n, 1))
    base_vol = mean_lines * normal.rate[:, j] / normal.rate[:, j].mean()
    for s, e, jj, frac in mods.mix:
        if jj != j:
            continue
        # share moves from the most common template a to another one b (a path switch,
        # e.g. cache hits turning into misses), bounded so that both counts stay within
        # their normal range (Poisson: up to 2.33 standard deviations past the extremes)
        a = int(np.argmax(tpl.weights))
        b = next(int(i) for i in np.argsort(np.abs(tpl.weights - 0.12)) if i != a)
        lam_a, lam_b = base_vol * tpl.weights[a], base_vol * tpl.weights[b]
        hi_b = lam_b.max() + 2.33 * np.sqrt(lam_b.max())
        lo_a = max(lam_a.min() - 2.33 * np.sqrt(lam_a.min()), 0.0)
        vol = volume[s:e]
        moved = np.minimum(frac * tpl.weights[a], np.minimum(
            hi_b / vol - tpl.weights[b], tpl.weights[a] - lo_a / vol))
        moved = np.maximum(moved, 0)
        w[s:e, a] -= moved
        w[s:e, b] += moved
    lat_ratio = state.lat[:, j] / np.median(normal.lat[:, j])
    templates = list(tpl.normal) + [tpl.slow, tpl.warn, tpl.gc] + tpl.errors + [tpl.stack]
    err = state.err[:, j]
    other = 0.01 * lat_ratio ** 2 + 0.02 + 0.002 + 0.1 * mods.gc[:, j] + 2 * err
    rates = [volume[:, None] * w * np.clip(1 - other, 0.05, 1)[:, None]]
    rates.append(np.stack([0.01 * lat_ratio ** 2, np.full(n, 0.02),
                           0.002 + 0.1 * mods.gc[:, j], err, err, 3 * err], axis=1)
                 * volume[:, None])
    for c, text in tpl.upstream.items():
        templates.append(text)
        rates.append((volume * 0.3 * np.minimum(delay_seen[:, c] / 0.1, 1.0))[:, None])
    return templates, np.concatenate(rates, axis=1)


def _make_logs(sysd, state, normal, mods, mean_lines, start_ns, rng):
    S = len(sysd.services)
    n = state.rate.shape[0]
    frames = []
    for j in range(S):
        tpl = _service_templates(j, sysd, rng)
        templates, lam = _log_counts(j, tpl, state, normal, mods, mean_lines[j], mods.delay)
        counts = rng.poisson(lam)
        lat_ms = state.lat[:, j] * 1000
        for k, text in enumerate(templates):
            minute = np.repeat(np.arange(n), counts[:, k])
            if not len(minute):
                continue
            frames.append((j, minute, _fill(text, _line_values(text, minute, lat_ms, rng))))
    total = sum(len(m) for _, m, _ in frames)
    svc = np.empty(total, dtype=np.int64)
    minute = np.empty(total, dtype=np.int64)
    message = np.empty(total, dtype=object)
    pos = 0
    for j, m, msg in frames:
        svc[pos:pos + len(m)], minute[pos:pos + len(m)], message[pos:pos + len(m)] = j, m, msg
        pos += len(m)
    t = start_ns + minute * _MINUTE_NS + rng.randint(0, _MINUTE_NS, size=total)
    order = np.argsort(t, kind="stable")
    pods, services = np.array(sysd.pods, dtype=object), np.array(sysd.services, dtype=object)
    return pd.DataFrame({
        "time": pd.to_datetime(t[order], unit="ns"), "pod": pods[svc[order]],
        "service": services[svc[order]], "message": message[order]})


def _hex_ids(rng, k, width):
    """``k`` random lowercase hex strings of ``width`` (even) characters."""
    raw = rng.bytes(k * width // 2).hex().encode("ascii")
    return np.frombuffer(raw, dtype=f"S{width}").astype(f"U{width}").astype(object)


def _make_spans(sysd, state, traces_per_minute, start_ns, rng):
    """Traced requests walk the call graph; a span lasts its own time plus its callees'."""
    n, S = state.rate.shape
    calls = sysd.calls
    per_min = rng.poisson(traces_per_minute * state.rate[:, 0] / state.rate[:, 0].mean())
    minute = [np.repeat(np.arange(n), per_min)]
    svc = [np.zeros(len(minute[0]), dtype=np.int64)]
    parent = [np.full(len(minute[0]), -1)]
    offset = len(minute[0])
    blocks = {0: (0, offset)}
    for c in range(1, S):
        par_c = []
        for p in np.flatnonzero(calls[:, c]):
            a, b = blocks[p]
            k = rng.poisson(calls[p, c], size=b - a)
            idx = np.repeat(np.arange(a, b), k)
            par_c.append(idx)
        par_c = np.concatenate(par_c) if par_c else np.empty(0, dtype=np.int64)
        all_min = np.concatenate(minute)
        m_c = all_min[par_c]
        minute.append(m_c)
        svc.append(np.full(len(m_c), c))
        parent.append(par_c)
        blocks[c] = (offset, offset + len(m_c))
        offset += len(m_c)
    minute, svc, parent = (np.concatenate(x) for x in (minute, svc, parent))
    N = len(minute)
    own = state.own[minute, svc] * rng.lognormal(0, 0.25, size=N)
    err = rng.rand(N) < state.err_own[minute, svc]
    dur = own.copy()
    for c in range(S - 1, 0, -1):  # callees first: add their durations to the caller
        a, b = blocks[c]
        np.add.at(dur, parent[a:b], dur[a:b])
        np.logical_or.at(err, parent[a:b], err[a:b] & (rng.rand(b - a) < 0.5))
    # siblings run one after another, after a fifth of the caller's own time
    start = np.zeros(N)
    child = np.flatnonzero(parent >= 0)
    order = child[np.argsort(parent[child], kind="stable")]
    cs = np.cumsum(dur[order]) - dur[order]
    grp_first = np.r_[True, parent[order][1:] != parent[order][:-1]]
    excl = cs - np.maximum.accumulate(np.where(grp_first, cs, 0))
    rel = np.zeros(N)
    rel[order] = excl + 0.2 * own[parent[order]]
    roots = parent < 0
    start[roots] = (minute[roots] * _MINUTE_NS + rng.randint(0, _MINUTE_NS, size=roots.sum())) / 1e9
    for c in range(1, S):
        a, b = blocks[c]
        start[a:b] = start[parent[a:b]] + rel[a:b]
    trace_root = np.arange(N)
    for c in range(1, S):
        a, b = blocks[c]
        trace_root[a:b] = trace_root[parent[a:b]]
    trace_ids = _hex_ids(rng, int(roots.sum()), 32)
    root_pos = np.full(N, -1)
    root_pos[np.flatnonzero(roots)] = np.arange(roots.sum())
    span_ids = _hex_ids(rng, N, 16)
    ops = np.array([f"{'GET' if rng.rand() < 0.6 else 'POST'} /api/v1/{r}" for r in sysd.resource],
                   dtype=object)
    pods, services = np.array(sysd.pods, dtype=object), np.array(sysd.services, dtype=object)
    start_t = start_ns + np.round(start * 1e9).astype(np.int64)
    end_t = start_t + np.round(dur * 1e9).astype(np.int64)
    pid = np.where(parent >= 0, span_ids[np.maximum(parent, 0)], "root")
    out = pd.DataFrame({
        "trace_id": trace_ids[root_pos[trace_root]], "span_id": span_ids, "parent_id": pid,
        "pod": pods[svc], "service": services[svc], "operation": ops[svc],
        "start": pd.to_datetime(start_t, unit="ns"), "end": pd.to_datetime(end_t, unit="ns"),
        "duration": (end_t - start_t) / 1e9, "status": np.where(err, "error", "ok"),
    })
    return out.sort_values("start", kind="stable", ignore_index=True)


def _noisy_metrics(sysd, state, index, rng):
    n, S = state.rate.shape
    req = rng.poisson(state.rate * 60)
    errors = rng.binomial(req, state.err)
    noise = lambda s: rng.normal(1, s, size=(n, S))  # noqa: E731
    mean = state.lat * noise(0.04)
    table = {
        "cpu_usage": state.cpu * noise(0.03), "memory_usage": state.mem * noise(0.005),
        "network_receive_bytes": state.rx * noise(0.03),
        "network_transmit_bytes": state.tx * noise(0.03),
        "request_rate": req / 60.0, "latency_mean": mean,
        "latency_p95": mean * sysd.p95_ratio * noise(0.05),
        "error_rate": errors / np.maximum(req, 1),
    }
    cols, data = [], []
    for j, pod in enumerate(sysd.pods):
        for name in METRIC_NAMES:
            cols.append(f"{pod}__{name}")
            data.append(table[name][:, j])
    return pd.DataFrame(np.stack(data, axis=1), index=index, columns=cols)


@validate_params(
    {
        "n_services": [Interval(Integral, 2, None, closed="left")],
        "n_minutes": [Interval(Integral, 2, None, closed="left")],
        "n_faults": [Interval(Integral, 0, None, closed="left")],
        "fault_types": ["array-like", str],
        "n_train_minutes": [Interval(Integral, 0, None, closed="left")],
        "fault_duration": [tuple, list],
        "min_gap": [Interval(Integral, 0, None, closed="left")],
        "log_lines_per_minute": [Interval(Integral, 0, None, closed="left")],
        "traces_per_minute": [Interval(Integral, 0, None, closed="left")],
        "start": [str, pd.Timestamp],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_microservice_telemetry(
    n_services=8,
    n_minutes=4320,
    *,
    n_faults=12,
    fault_types=FAULT_TYPES,
    n_train_minutes=2880,
    fault_duration=(5, 30),
    min_gap=30,
    log_lines_per_minute=30,
    traces_per_minute=5,
    start="2024-01-01",
    random_state=None,
):
    """Generate raw telemetry of a microservice system with labelled faults.

    A call graph of ``n_services`` services (a DAG whose root is ``"frontend"``, one pod
    per service, Kubernetes-style pod names ``<service>-<hash>-<hash>``) serves a daily
    load: the frontend's request rate follows a day/night cycle (trough at night, about
    3x higher in the afternoon) times slow and fast noise, and each callee's rate is its
    callers' rates times calls per request, times its own noise.

    Per pod and minute: CPU follows the request rate; the pod's own latency grows with
    CPU utilisation (queueing), and its latency as seen by callers adds its callees'
    latencies (sequential calls); memory has a small load term; network bytes follow
    requests and calls; errors are drawn from a small base rate plus the errors of
    callees. Logs come from 12-15 templates per service (INFO/DEBUG chatter, occasional
    benign WARNs, rare ERRORs, with ids, numbers, durations, IPs as variable parts); their
    volume follows load and their durations follow latency. Traced requests (a fixed
    fraction of the frontend's requests) walk the call graph: a span lasts its own time
    (drawn around the pod's own latency) plus its callees' spans, which run one after
    another inside it.

    Faults (each on one pod, from start to end, starting on whole minutes after a
    fault-free training part) change a driver of that model, so their effect spreads
    as the model says:

    - ``"cpu_hog"``: +35-60 % of the CPU limit; the pod's and its callers' latency rise;
    - ``"memory_leak"``: memory grows linearly by 60-120 % of its base; GC-pause WARNs
      become frequent;
    - ``"network_delay"``: 80-300 ms added to the pod's responses; callers' latency rises
      and they log slow-call WARNs;
    - ``"exception_burst"``: 5-20 % of requests fail; ERROR lines and stack traces,
      error spans, and errors in callers;

    and three cross-modal faults, each keeping every channel inside its normal range
    (the range the channel takes over the fault-free series):

    - ``"log_mix_shift"``: 50-80 % of the share of the service's most common template
      moves to another normal template (a code-path switch, like cache hits turning
      into misses) at unchanged log volume, bounded so that both templates' counts stay
      within their normal range (the extremes of their expected count, plus 2.33 Poisson
      standard deviations);
    - ``"latency_throughput_break"``: the service's load falls to 60-75 % (not below its
      normal 2 % quantile) while its latency rises 1.3-1.8x (not above its normal 98 %
      quantile), the opposite of their normal relation;
    - ``"joint_drift"``: CPU and memory of the pod (and, through CPU, its latency) move
      together by 25-40 % of their daily swing (towards the middle of their range, clipped to their
      normal 1-99 % range), with no change in load.

    All effects ramp up over the first 3 minutes (the memory leak over its whole span).

    Parameters
    ----------
    n_services : int, default=8
        Number of services (the frontend included), >= 2.
    n_minutes : int, default=4320
        Length of the series in minutes (one metrics row per minute); 4320 is 3 days.
    n_faults : int, default=12
        Number of faults. Types are dealt from ``fault_types`` in shuffled rounds, so
        each type appears ``n_faults // len(fault_types)`` or one more times.
    fault_types : str or sequence of str, default=FAULT_TYPES
        Fault types to draw from (see above and :data:`FAULT_TYPES`).
    n_train_minutes : int, default=2880
        Leading fault-free minutes (for training detectors on normal data).
    fault_duration : tuple of (int, int), default=(5, 30)
        Inclusive range of fault durations in minutes.
    min_gap : int, default=30
        Minimum number of normal minutes between two faults.
    log_lines_per_minute : int, default=30
        Mean number of log lines per pod and minute over the series (busier services log
        more; volume follows load).
    traces_per_minute : int, default=5
        Mean number of traced requests per minute (a fixed fraction of the frontend's
        requests, so it follows load); every trace has spans on the services it reaches.
    start : str or Timestamp, default="2024-01-01"
        Time of the first minute (naive, read as UTC).
    random_state : int, RandomState instance or None, default=None
        Controls every random draw; the same seed gives the same tables.

    Returns
    -------
    data : sklearn.utils.Bunch
        - ``metrics``: DataFrame, one row per minute (DatetimeIndex ``"time"``), columns
          ``"<pod>__<metric>"`` for the metrics in ``METRIC_NAMES``: ``cpu_usage``
          (millicores), ``memory_usage`` (MiB), ``network_receive_bytes`` and
          ``network_transmit_bytes`` (per minute), ``request_rate`` (per second),
          ``latency_mean`` (the mean duration of the pod's spans), ``latency_p95``
          (seconds), ``error_rate`` (0-1);
        - ``logs``: DataFrame ``time, pod, service, message`` sorted by time;
        - ``spans``: DataFrame ``trace_id, span_id, parent_id, pod, service, operation,
          start, end, duration, status`` (``parent_id`` is ``"root"`` for a trace's first
          span; ``duration`` in seconds; ``status`` is ``"ok"`` or ``"error"``);
        - ``faults``: DataFrame ``time, end, pod, service, type``;
        - ``labels``: int8 Series on the metrics index, 1 while a fault is active
          (:func:`fault_labels` of ``faults``);
        - ``call_graph``: DataFrame ``source, target, calls`` (calls per request);
        - ``services``, ``pods``: lists, in topological order (``"frontend"`` first);
        - ``n_train_minutes``: int; ``descr``: str.

    Examples
    --------
    >>> from skanomaly.datasets import make_microservice_telemetry
    >>> d = make_microservice_telemetry(n_services=4, n_minutes=300, n_faults=2,
    ...                                 n_train_minutes=120, random_state=0)
    >>> d.metrics.shape
    (300, 32)
    >>> list(d.faults.columns)
    ['time', 'end', 'pod', 'service', 'type']
    >>> int(d.labels[:120].sum())
    0
    """
    types = (fault_types,) if isinstance(fault_types, str) else tuple(fault_types)
    unknown = [t for t in types if t not in FAULT_TYPES]
    if (n_faults and not types) or unknown:
        raise ValueError(f"fault_types must be a non-empty subset of {FAULT_TYPES}; "
                         f"got unknown {unknown}.")
    try:
        lo, hi = (int(v) for v in fault_duration)
    except (TypeError, ValueError):
        raise ValueError(
            f"fault_duration must be a pair (min, max) of ints; got {fault_duration!r}."
        ) from None
    if not 1 <= lo <= hi:
        raise ValueError(f"fault_duration must satisfy 1 <= min <= max; got {fault_duration!r}.")
    if n_train_minutes >= n_minutes:
        raise ValueError(f"n_train_minutes ({n_train_minutes}) must be smaller than "
                         f"n_minutes ({n_minutes}).")
    rng = check_random_state(random_state)
    n, S = n_minutes, n_services
    sysd = _build_system(S, rng)
    start_ts = pd.Timestamp(start)
    if start_ts.tz is not None:
        raise ValueError(f"start must be a naive timestamp (read as UTC); got {start!r}.")
    start_ns = start_ts.as_unit("ns").value
    t_day = (np.arange(n) + (start_ns // _MINUTE_NS)) % 1440 / 1440.0
    shape = 0.3 + 0.7 * (0.5 - 0.5 * np.cos(2 * np.pi * (t_day - rng.uniform(3, 5) / 24)))
    front = rng.uniform(30, 60) * shape * np.exp(_ar1(rng, n, 1, 1 - 1 / 240, 0.04)[:, 0])
    drivers = Bunch(front=front, own_noise=np.exp(_ar1(rng, n, S, 0.95, 0.03)),
                    mem_noise=np.exp(_ar1(rng, n, S, 0.99, 0.02)))
    drivers.mean_rate = np.ones(S)
    drivers.mean_rate = _expected(sysd, drivers, _no_mods(n, S)).rate.mean(axis=0)
    normal = _expected(sysd, drivers, _no_mods(n, S))

    schedule = _schedule(n, n_train_minutes, n_faults, types, (lo, hi), min_gap, S, rng)
    mods = _apply_faults(schedule, normal, sysd, _no_mods(n, S), rng)
    state = _expected(sysd, drivers, mods)

    index = pd.DatetimeIndex(pd.to_datetime(start_ns + np.arange(n) * _MINUTE_NS, unit="ns"),
                             name="time", freq="min")
    metrics = _noisy_metrics(sysd, state, index, rng)
    logs = _make_logs(sysd, state, normal, mods, log_lines_per_minute * sysd.log_scale,
                      start_ns, rng)
    spans = _make_spans(sysd, state, traces_per_minute, start_ns, rng)
    at = lambda minutes: pd.to_datetime(  # noqa: E731
        np.asarray(minutes, dtype=np.int64) * _MINUTE_NS + start_ns, unit="ns")
    faults = pd.DataFrame({
        "time": at([s for s, _, _, _ in schedule]), "end": at([e for _, e, _, _ in schedule]),
        "pod": pd.Series([sysd.pods[j] for *_, j in schedule], dtype="str"),
        "service": pd.Series([sysd.services[j] for *_, j in schedule], dtype="str"),
        "type": pd.Series([k for _, _, k, _ in schedule], dtype="str"),
    })
    src, dst = np.nonzero(sysd.calls)
    call_graph = pd.DataFrame({"source": [sysd.services[i] for i in src],
                               "target": [sysd.services[i] for i in dst],
                               "calls": sysd.calls[src, dst]})
    descr = (f"Simulated microservice telemetry: {S} services, {n} minutes from {start_ts}, "
             f"{len(schedule)} faults after {n_train_minutes} fault-free minutes; "
             f"{len(logs)} log lines, {len(spans)} spans.")
    return Bunch(metrics=metrics, logs=logs, spans=spans, faults=faults,
                 labels=fault_labels(index, faults), call_graph=call_graph,
                 services=list(sysd.services), pods=list(sysd.pods),
                 n_train_minutes=n_train_minutes, descr=descr)
