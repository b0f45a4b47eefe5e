#!/usr/bin/env python3
"""Vectorised NumPy reference implementation of the LDP oracles of `secagg::ldp`, timed on the
same workloads as `examples/ldp_speed.rs` (the speed baseline of issue 14, section 3).

Same mechanisms and parameters as the Rust crate (GRR, SUE, OUE, BLH/OLH with the same
Carter-Wegman hash mod 2^61 - 1, HR high-privacy form, SS, RS+FD[GRR], RS+FD[OUE-z], Spl[GRR],
Smp[ADP]); the generator is NumPy's default PCG64. Every client and server is written as whole-array
operations (chunked where an n x k temporary would not fit in a few tens of MB). Estimates are
checked against the true frequencies (`--check`) so the timed code is a working implementation.

    python3 benches/ldp_numpy.py [--n 100000] [--reps 3] [--check]

Prints one JSON object per line: {"oracle", "side", "api": "numpy", "n", "k", "eps", "cpu_s"},
cpu_s being the smallest of --reps runs of time.thread_time() (CPU time of this thread).
"""
import argparse
import json
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402

P61 = np.uint64((1 << 61) - 1)
CHUNK_CELLS = 1 << 22  # cells of an n x k temporary per chunk


def rows_per_chunk(k):
    return max(1, CHUNK_CELLS // max(1, k))


def zipf(k, n, rng, s=1.1):
    w = np.arange(1, k + 1, dtype=np.float64) ** -s
    cdf = np.cumsum(w / w.sum())
    cdf[-1] = 1.0
    return np.minimum(np.searchsorted(cdf, rng.random(n)), k - 1).astype(np.int64)


# ---------------------------------------------------------------- GRR
class Grr:
    def __init__(self, k, eps):
        self.k, self.eps = k, eps
        e = math.exp(eps)
        self.p, self.q = e / (e + k - 1), 1.0 / (e + k - 1)
        self.pstar, self.qstar = self.p, self.q

    def client(self, v, rng):
        keep = rng.random(v.size) < self.p
        other = rng.integers(0, self.k - 1, v.size)
        other += other >= v
        return np.where(keep, v, other)

    def counts(self, y):
        return np.bincount(y, minlength=self.k)

    def server(self, y):
        return estimate(self.counts(y), y.size, self.pstar, self.qstar)


def estimate(c, n, p, q):
    return (c / n - q) / (p - q)


# ---------------------------------------------------------------- UE
class Ue:
    def __init__(self, k, eps, optimized):
        self.k, self.eps = k, eps
        if optimized:
            self.p, self.q = 0.5, 1.0 / (math.exp(eps) + 1.0)
        else:
            h = math.exp(eps / 2)
            self.p, self.q = h / (h + 1.0), 1.0 / (h + 1.0)

    def client(self, v, rng):
        """Reports as packed bit vectors (n x ceil(k/8) bytes, bit i = value i)."""
        out = np.empty((v.size, (self.k + 7) // 8), dtype=np.uint8)
        step = rows_per_chunk(self.k)
        for s in range(0, v.size, step):
            vv = v[s:s + step]
            bits = rng.random((vv.size, self.k)) < self.q
            bits[np.arange(vv.size), vv] = rng.random(vv.size) < self.p
            out[s:s + step] = np.packbits(bits, axis=1, bitorder="little")
        return out

    def counts(self, packed):
        c = np.zeros(self.k, dtype=np.int64)
        step = rows_per_chunk(self.k)
        for s in range(0, packed.shape[0], step):
            bits = np.unpackbits(packed[s:s + step], axis=1, count=self.k, bitorder="little")
            c += bits.sum(axis=0, dtype=np.int64)
        return c

    def server(self, packed):
        return estimate(self.counts(packed), packed.shape[0], self.p, self.q)


# ---------------------------------------------------------------- LH
def lh_hash(a, b, v, g):
    """floor(((a v + b) mod (2^61 - 1)) g / 2^61) with uint64 arithmetic (v < 2^30, g <= 8)."""
    v = v.astype(np.uint64)
    a_lo = a & np.uint64(0xFFFFFFFF)
    a_hi = a >> np.uint64(32)
    t1 = a_lo * v  # < 2^62
    t2 = a_hi * v  # < 2^59
    t1 = (t1 & P61) + (t1 >> np.uint64(61))
    # t2 * 2^32 = (t2 >> 29) 2^61 + (t2 & (2^29 - 1)) 2^32 = (t2 >> 29) + ((t2 & mask) << 32)
    s = t1 + (t2 >> np.uint64(29)) + ((t2 & np.uint64((1 << 29) - 1)) << np.uint64(32)) + b
    s = (s & P61) + (s >> np.uint64(61))
    s = np.where(s >= P61, s - P61, s)
    return (s * np.uint64(g)) >> np.uint64(61)


class Lh:
    def __init__(self, k, eps, optimized):
        self.k, self.eps = k, eps
        self.g = int(math.floor(math.exp(eps) + 0.5)) + 1 if optimized else 2
        assert self.g <= 8, "this reference hashes with g <= 8 (uint64 products)"
        e = math.exp(eps)
        self.p = e / (e + self.g - 1)

    def client(self, v, rng):
        n = v.size
        a = rng.integers(1, int(P61), n, dtype=np.uint64)
        b = rng.integers(0, int(P61), n, dtype=np.uint64)
        x = lh_hash(a, b, v, self.g).astype(np.int64)
        keep = rng.random(n) < self.p
        other = rng.integers(0, self.g - 1, n)
        other += other >= x
        return a, b, np.where(keep, x, other)

    def counts(self, rep):
        a, b, y = rep
        c = np.zeros(self.k, dtype=np.int64)
        vals = np.arange(self.k, dtype=np.uint64)[None, :]
        step = rows_per_chunk(self.k)
        for s in range(0, y.size, step):
            h = lh_hash(a[s:s + step, None], b[s:s + step, None], vals, self.g)
            c += (h == y[s:s + step, None].astype(np.uint64)).sum(axis=0)
        return c

    def server(self, rep):
        return estimate(self.counts(rep), rep[2].size, self.p, 1.0 / self.g)


# ---------------------------------------------------------------- HR
class Hr:
    def __init__(self, k, eps):
        self.k, self.eps = k, eps
        self.K = 1 << (k + 1 - 1).bit_length() if (k + 1) & k else k + 1
        self.K = 1 << math.ceil(math.log2(k + 1))
        e = math.exp(eps)
        self.p = e / (e + 1.0)

    def client(self, v, rng):
        n = v.size
        want_in = rng.random(n) < self.p
        y = rng.integers(0, self.K, n)
        row = v + 1
        in_set = (np.bitwise_count(row & y) & 1) == 0
        return y ^ np.where(in_set != want_in, row & -row, 0)

    def counts(self, y):
        x = np.bincount(y, minlength=self.K).astype(np.int64)
        h = 1
        while h < self.K:
            x = x.reshape(-1, 2, h)
            x = np.concatenate([x[:, 0] + x[:, 1], x[:, 0] - x[:, 1]], axis=1).reshape(-1)
            h *= 2
        return (y.size + x[1:self.k + 1]) // 2

    def server(self, y):
        return estimate(self.counts(y), y.size, self.p, 0.5)


# ---------------------------------------------------------------- SS
class Ss:
    def __init__(self, k, eps):
        self.k, self.eps = k, eps
        e = math.exp(eps)
        self.omega = min(max(int(math.floor(k / (e + 1.0) + 0.5)), 1), k - 1)
        w = self.omega
        d = w * e + k - w
        self.p = w * e / d
        self.q = (w * e * (w - 1) + (k - w) * w) / ((k - 1) * d)

    def client(self, v, rng):
        """n x omega sorted values: the omega smallest of k uniform keys, with v's key forced
        below (included, probability p) or above (excluded) every other key."""
        out = np.empty((v.size, self.omega), dtype=np.int64)
        step = rows_per_chunk(self.k)
        for s in range(0, v.size, step):
            vv = v[s:s + step]
            keys = rng.random((vv.size, self.k))
            inc = rng.random(vv.size) < self.p
            keys[np.arange(vv.size), vv] = np.where(inc, -1.0, 2.0)
            part = np.argpartition(keys, self.omega - 1, axis=1)[:, :self.omega]
            out[s:s + step] = np.sort(part, axis=1)
        return out

    def counts(self, rep):
        return np.bincount(rep.reshape(-1), minlength=self.k)

    def server(self, rep):
        return estimate(self.counts(rep), rep.shape[0], self.p, self.q)


# ---------------------------------------------------------------- multidimensional
class RsFd:
    """RS+FD[GRR] or RS+FD[OUE-z] (paper calibration, eps' = ln(d(e^eps - 1) + 1))."""

    def __init__(self, domains, eps, kind):
        self.domains, self.eps, self.kind = domains, eps, kind
        d = len(domains)
        self.ep = math.log1p(d * math.expm1(eps))
        self.attrs = []
        for k in domains:
            if kind == "GRR":
                o = Grr(k, self.ep)
                d1 = (o.p + (d - 1) / k) / d
                d0 = (o.q + (d - 1) / k) / d
            else:
                o = Ue(k, self.ep, True)
                d1 = (o.p + (d - 1) * o.q) / d
                d0 = o.q
            self.attrs.append((o, d1, d0))

    def client(self, rows, rng):
        n, d = rows.shape
        j = rng.integers(0, d, n)
        out = []
        for i, (o, _, _) in enumerate(self.attrs):
            v = rows[:, i]
            if self.kind == "GRR":
                out.append(np.where(j == i, o.client(v, rng), rng.integers(0, o.k, n)))
            else:
                k = o.k
                bits = rng.random((n, k)) < o.q
                sel = np.nonzero(j == i)[0]
                bits[sel, v[sel]] = rng.random(sel.size) < o.p
                out.append(np.packbits(bits, axis=1, bitorder="little"))
        return out

    def server(self, cols):
        res = []
        for (o, d1, d0), c in zip(self.attrs, cols):
            n = c.shape[0]
            res.append(estimate(o.counts(c), n, d1, d0))
        return res


class SplGrr:
    def __init__(self, domains, eps):
        self.domains, self.eps = domains, eps
        self.attrs = [Grr(k, eps / len(domains)) for k in domains]

    def client(self, rows, rng):
        return [o.client(rows[:, i], rng) for i, o in enumerate(self.attrs)]

    def server(self, cols):
        return [o.server(c) for o, c in zip(self.attrs, cols)]


class SmpAdp:
    def __init__(self, domains, eps):
        self.domains, self.eps = domains, eps
        self.attrs = [Grr(k, eps) if k < 3 * math.exp(eps) + 2 else Ue(k, eps, True) for k in domains]

    def client(self, rows, rng):
        n, d = rows.shape
        j = rng.integers(0, d, n)
        return j, [(np.nonzero(j == i)[0], o.client(rows[j == i, i], rng)) for i, o in enumerate(self.attrs)]

    def server(self, rep):
        j, parts = rep
        out = []
        for o, (_, r) in zip(self.attrs, parts):
            c = o.counts(r)
            n_i = r.shape[0]
            pq = (o.pstar, o.qstar) if isinstance(o, Grr) else (o.p, o.q)
            out.append(estimate(c, n_i, *pq))
        return out


# ---------------------------------------------------------------- driver
def pq(o):
    if isinstance(o, Grr):
        return o.pstar, o.qstar
    if isinstance(o, Lh):
        return o.p, 1.0 / o.g
    if isinstance(o, Hr):
        return o.p, 0.5
    return o.p, o.q


def check(name, est, truth, pq_, n):
    """Every estimate within 6 standard deviations of the truth (exact variance)."""
    p, q = pq_
    sd = np.sqrt((truth * p * (1 - p) + (1 - truth) * q * (1 - q)) / (n * (p - q) ** 2))
    z = np.abs(est - truth) / sd
    assert z.max() < 6.0, (name, float(z.max()))


def timed(reps, f):
    best = math.inf
    for _ in range(reps):
        t0 = time.thread_time()
        f()
        best = min(best, time.thread_time() - t0)
    return best


def emit(name, side, n, k, eps, t):
    print(json.dumps({"oracle": name, "side": side, "api": "numpy", "n": n, "k": k, "eps": eps,
                      "cpu_s": round(t, 6)}), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--check", action="store_true", help="assert the estimates are close to the truth")
    ap.add_argument("--only", default="", help="comma-separated oracle names")
    a = ap.parse_args()
    rng = np.random.default_rng(7)
    eps = 1.0
    only = set(filter(None, a.only.split(",")))
    single = [("GRR", Grr(16, eps), a.n), ("GRR", Grr(1024, eps), a.n),
              ("SUE", Ue(1024, eps, False), a.n), ("OUE", Ue(1024, eps, True), a.n),
              ("BLH", Lh(1024, eps, False), a.n // 5), ("OLH", Lh(1024, eps, True), a.n // 5),
              ("HR", Hr(1024, eps), a.n), ("SS", Ss(1024, eps), a.n)]
    for name, o, n in single:
        if only and name not in only:
            continue
        v = zipf(o.k, n, rng)
        t = timed(a.reps, lambda: o.client(v, rng))
        emit(name, "client", n, str(o.k), eps, t)
        rep = o.client(v, rng)
        t = timed(a.reps, lambda: o.server(rep))
        emit(name, "server", n, str(o.k), eps, t)
        if a.check:
            check(name, o.server(rep), np.bincount(v, minlength=o.k) / n, pq(o), n)
    dom = [8, 16, 32, 64, 128]
    multi = [("RS+FD[GRR]", RsFd(dom, eps, "GRR")), ("RS+FD[OUE-z]", RsFd(dom, eps, "OUE")),
             ("Spl[GRR]", SplGrr(dom, eps)), ("Smp[ADP]", SmpAdp(dom, eps))]
    rows = np.stack([zipf(k, a.n, rng) for k in dom], axis=1)
    for name, p in multi:
        if only and name not in only:
            continue
        k = "[" + ",".join(map(str, dom)) + "]"
        t = timed(a.reps, lambda: p.client(rows, rng))
        emit(name, "client", a.n, k, eps, t)
        rep = p.client(rows, rng)
        t = timed(a.reps, lambda: p.server(rep))
        emit(name, "server", a.n, k, eps, t)
        if a.check:
            est = p.server(rep)
            for i, kk in enumerate(dom):
                truth = np.bincount(rows[:, i], minlength=kk) / a.n
                if isinstance(p, RsFd):
                    _, d1, d0 = p.attrs[i]
                    check(name, est[i], truth, (d1, d0), a.n)
                elif isinstance(p, SmpAdp):
                    # estimated from the ~n/d users that sampled the attribute
                    check(name, est[i], truth, pq(p.attrs[i]), a.n / len(dom) / 2)
                else:
                    check(name, est[i], truth, pq(p.attrs[i]), a.n)


if __name__ == "__main__":
    main()
