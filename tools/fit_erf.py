"""Fit the coefficients of ``chainrule.ops.special.erf`` with mpmath, and measure the module's error.

    python tools/fit_erf.py           # print the coefficient block and the error of the module
    python tools/fit_erf.py --write   # also replace that block in chainrule/ops/special.py

Needs mpmath (``pip install mpmath``); the library itself needs only NumPy. erf is approximated in
three ranges of ``|x|``, split at ``SMALL`` and ``TAIL``:

* ``|x| < SMALL``: ``erf x = x P(x²)``. ``P`` interpolates ``erf(√u)/√u`` at Chebyshev nodes of
  ``[0, SMALL²]`` (a near-minimax polynomial), of the smallest degree whose relative error is below
  ``TARGET``; so erf keeps full relative accuracy down to the tiniest ``x``.
* ``SMALL <= |x| < TAIL``: ``erf x = 1 - exp(-x²) N(x)/D(x)``, ``N/D`` approximating
  ``erfcx x = exp(x²) erfc x``. Only the absolute error of ``erfc = exp(-x²) N/D`` reaches erf, so
  the fit minimises ``max |exp(-x²) (erfcx - N/D)|``: weighted linearised least squares on Chebyshev
  nodes (Sanathanan-Koerner: each pass divides by the previous denominator), then Lawson reweighting
  towards the minimax solution. Degrees ``(m, m+1)`` (``erfcx x ~ 1/(x√π)``), ``m`` the smallest
  reaching ``TARGET``. In monomials of ``x`` all coefficients come out positive: Horner's rule then
  adds no cancellation and ``D`` has no zero for ``x > 0`` (both checked below).
* ``|x| >= TAIL``: ``erf x = ±1`` in float64 (``erfc 6 ≈ 2e-17``, under half an ulp of 1).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import mpmath as mp
import numpy as np

SMALL = 0.75
TAIL = 6.0
TARGET = 2e-17  # approximation error (relative for P, absolute in erfc for N/D), far below an ulp
NODES = 200
MODULE = Path(__file__).resolve().parent.parent / "chainrule" / "ops" / "special.py"
BEGIN, END = "# BEGIN coefficients fitted by tools/fit_erf.py", "# END coefficients"

mp.mp.dps = 40


def chebyshev_nodes(a: mp.mpf, b: mp.mpf, n: int) -> list[mp.mpf]:
    """``n`` Chebyshev points of the first kind on ``[a, b]``."""
    return [(a + b) / 2 + (b - a) / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / n) for k in range(n)]


def chebyshev_basis(t: mp.mpf, degree: int) -> list[mp.mpf]:
    """``T_0(t) … T_degree(t)``."""
    basis = [mp.mpf(1), t]
    while len(basis) <= degree:
        basis.append(2 * t * basis[-1] - basis[-2])
    return basis[:degree + 1]


def to_monomials(coefficients: list[mp.mpf], a: mp.mpf, b: mp.mpf) -> list[mp.mpf]:
    """A Chebyshev series in ``t = (2x - a - b)/(b - a)`` as monomial coefficients in ``x``."""
    degree = len(coefficients) - 1
    # T_j as polynomials in t, then t = αx + β substituted
    polys = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    while len(polys) <= degree:
        nxt = [mp.mpf(0)] + [2 * c for c in polys[-1]]
        for i, c in enumerate(polys[-2]):
            nxt[i] -= c
        polys.append(nxt)
    in_t = [mp.fsum(coefficients[j] * polys[j][i] for j in range(degree + 1) if i < len(polys[j]))
            for i in range(degree + 1)]
    alpha, beta = 2 / (b - a), -(a + b) / (b - a)
    return [mp.fsum(in_t[k] * mp.binomial(k, i) * alpha ** i * beta ** (k - i) for k in range(i, degree + 1))
            for i in range(degree + 1)]


def polyval(coefficients: list[mp.mpf], x: mp.mpf) -> mp.mpf:
    result = mp.mpf(0)
    for c in reversed(coefficients):
        result = result * x + c
    return result


def fit_small() -> list[mp.mpf]:
    """Monomial coefficients (in u = x²) of P, erf x = x P(x²) on |x| < SMALL."""
    a, b = mp.mpf(0), mp.mpf(SMALL) ** 2
    f = lambda u: mp.erf(mp.sqrt(u)) / mp.sqrt(u) if u else 2 / mp.sqrt(mp.pi)  # noqa: E731
    check = [b * k / 2000 for k in range(2001)]
    for degree in range(4, 30):
        nodes = chebyshev_nodes(a, b, degree + 1)
        values = [f(u) for u in nodes]
        ts = [(2 * u - a - b) / (b - a) for u in nodes]
        cheb = [2 * mp.fsum(v * chebyshev_basis(t, degree)[j] for v, t in zip(values, ts)) / (degree + 1)
                for j in range(degree + 1)]
        cheb[0] /= 2
        p = to_monomials(cheb, a, b)
        error = max(abs(polyval(p, u) / f(u) - 1) for u in check)
        if error < TARGET:
            print(f"# small range: degree {degree} in x², max relative error {mp.nstr(error, 3)}", file=sys.stderr)
            return p
    raise RuntimeError("no polynomial degree reached TARGET")


def fit_rational(m: int) -> tuple[list[mp.mpf], list[mp.mpf], mp.mpf]:
    """N (degree m), D (degree m+1, D(0) = 1) and the max absolute error in erfc on [SMALL, TAIL]."""
    a, b = mp.mpf(SMALL), mp.mpf(TAIL)
    k = m + 1
    xs = chebyshev_nodes(a, b, NODES)
    ts = [(2 * x - a - b) / (b - a) for x in xs]
    fs = [mp.erfc(x) * mp.exp(x * x) for x in xs]
    ws = [mp.exp(-x * x) for x in xs]
    basis = [chebyshev_basis(t, k) for t in ts]
    previous = [mp.mpf(1)] * NODES
    lawson = [mp.mpf(1)] * NODES
    for iteration in range(24):
        # unknowns: n_0 … n_m, d_1 … d_k of N = Σ n_j T_j, D = 1 + Σ d_j T_j; residual w (f D - N) / D_prev
        rows, rhs = [], []
        for i in range(NODES):
            s = ws[i] * lawson[i] / previous[i]
            rows.append([s * basis[i][j] for j in range(m + 1)] + [-s * fs[i] * basis[i][j] for j in range(1, k + 1)])
            rhs.append(s * fs[i])
        solution = mp.qr_solve(mp.matrix(rows), mp.matrix(rhs))[0]
        num = [solution[j] for j in range(m + 1)]
        den = [mp.mpf(1)] + [solution[m + j] for j in range(1, k + 1)]
        errors = []
        for i in range(NODES):
            previous[i] = mp.fsum(d * t for d, t in zip(den, basis[i]))
            errors.append(abs(ws[i] * (fs[i] - mp.fsum(c * t for c, t in zip(num, basis[i])) / previous[i])))
        if iteration >= 3:  # Lawson: weight the points where the error is largest more
            worst = max(errors)
            lawson = [w * mp.sqrt(e / worst + mp.mpf(10) ** -30) for w, e in zip(lawson, errors)]
            total = mp.fsum(lawson)
            lawson = [w * NODES / total for w in lawson]
    n, d = to_monomials(num, a, b), to_monomials(den, a, b)
    n, d = [c / d[0] for c in n], [c / d[0] for c in d]
    check = [a + (b - a) * j / 4000 for j in range(4001)]
    error = max(abs(mp.erfc(x) - mp.exp(-x * x) * polyval(n, x) / polyval(d, x)) for x in check)
    return n, d, error


def fit_mid() -> tuple[list[mp.mpf], list[mp.mpf]]:
    for m in range(3, 12):
        n, d, error = fit_rational(m)
        if error < TARGET:
            if min(n + d) <= 0:
                raise RuntimeError("a coefficient is not positive: Horner's rule would cancel, D may vanish")
            print(f"# middle range: degrees ({m}, {m + 1}), max absolute error in erfc {mp.nstr(error, 3)}",
                  file=sys.stderr)
            return n, d
    raise RuntimeError("no rational degree reached TARGET")


def block(p: list[mp.mpf], n: list[mp.mpf], d: list[mp.mpf]) -> str:
    def tuple_lines(name: str, coefficients: list[mp.mpf]) -> str:
        values = [repr(float(c)) for c in coefficients]
        lines, line = [], ""
        for v in values:
            if len(line) + len(v) + 2 > 92:
                lines.append(line.rstrip())
                line = ""
            line += v + ", "
        lines.append(line.rstrip())
        return f"{name} = (\n" + "\n".join("    " + ln for ln in lines) + "\n)"

    return "\n".join([
        BEGIN,
        f"_SMALL = {SMALL!r}",
        f"_TAIL = {TAIL!r}",
        tuple_lines("_ERF_SMALL", p),
        tuple_lines("_ERFCX_NUM", n),
        tuple_lines("_ERFCX_DEN", d),
        END,
    ])


def measure() -> None:
    """The module's float64 erf against mpmath on dense grids (tiny, ordinary and large |x|)."""
    sys.path.insert(0, str(MODULE.parent.parent.parent))
    from chainrule.ops.special import erf

    grid = np.concatenate([np.linspace(0, 7, 200_001), np.geomspace(1e-310, 1, 2_001),
                           np.nextafter(np.array([SMALL, TAIL]), [[0], [np.inf]]).ravel()])
    grid = np.concatenate([grid, -grid])
    got = erf(grid)
    want = np.array([float(mp.erf(mp.mpf(float(x)))) for x in grid])
    absolute = np.abs(got - want)
    relative = absolute / np.maximum(np.abs(want), np.finfo(float).tiny)
    print(f"# module erf vs mpmath on {grid.size} points: max absolute error {absolute.max():.3g}, "
          f"max relative error {relative.max():.3g}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the block in chainrule/ops/special.py")
    args = parser.parse_args()
    text = block(fit_small(), *fit_mid())
    print(text)
    if args.write:
        source = MODULE.read_text()
        pattern = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END), re.S)
        if not pattern.search(source):
            raise SystemExit(f"{MODULE}: the block between {BEGIN!r} and {END!r} is missing")
        MODULE.write_text(pattern.sub(lambda _: text, source))
    measure()


if __name__ == "__main__":
    main()
