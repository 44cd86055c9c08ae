"""Independent reference numbers for the insights tests, stdlib only (no numpy/scipy).

Reads JSON on stdin, prints numbers separated by spaces on one line.
  fit MODEL      {"x": [...], "y": [...], "at": X}  -> a b c se_a se_b se_c sigma value_at_X
                 MODEL: pow (c + a*x^-b), exp (c + a*exp(-b*x)), logpow (c + a*ln(1+x)^-b).
                 Levenberg-Marquardt on (a, b, c) directly in x's own units, started from a
                 coarse grid over b; standard errors from s^2 (J'J)^-1 with a cofactor inverse.
  spearman       {"x": [...], "y": [...]}           -> rho p
                 Average ranks of ties, Pearson on ranks, p from the t distribution with n-2 df
                 through the regularized incomplete beta I_x(df/2, 1/2), integrated with
                 Simpson's rule after a substitution that removes its singularity.
  tquantile      {"p": P, "df": DF}                 -> t with P(T <= t) = P (bisection on the CDF)
"""
import json
import math
import sys


def model(kind, x, a, b, c):
    if kind == "pow":
        g = x ** (-b)
        dg = -math.log(x) * g
    elif kind == "exp":
        g = math.exp(-b * x)
        dg = -x * g
    else:
        L = math.log1p(x)
        g = L ** (-b)
        dg = -math.log(L) * g
    return c + a * g, (g, a * dg, 1.0)


def sse(kind, xs, ys, p):
    return sum((y - model(kind, x, *p)[0]) ** 2 for x, y in zip(xs, ys))


def linear_ac(kind, xs, ys, b):
    g = [model(kind, x, 1.0, b, 0.0)[0] for x in xs]
    n = len(xs)
    gm, ym = sum(g) / n, sum(ys) / n
    sgg = sum((v - gm) ** 2 for v in g)
    if sgg == 0:
        return 0.0, ym
    a = sum((v - gm) * (y - ym) for v, y in zip(g, ys)) / sgg
    return a, ym - a * gm


def det3(m):
    return (m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]))


def inv3(m):
    d = det3(m)
    cof = [[0.0] * 3 for _ in range(3)]
    for i in range(3):
        for j in range(3):
            r = [k for k in range(3) if k != i]
            c = [k for k in range(3) if k != j]
            minor = m[r[0]][c[0]] * m[r[1]][c[1]] - m[r[0]][c[1]] * m[r[1]][c[0]]
            cof[i][j] = (-1) ** (i + j) * minor
    return [[cof[j][i] / d for j in range(3)] for i in range(3)]


def solve3(m, v):
    d = det3(m)
    out = []
    for k in range(3):
        mk = [row[:] for row in m]
        for i in range(3):
            mk[i][k] = v[i]
        out.append(det3(mk) / d)
    return out


def fit(kind, xs, ys):
    # Coarse start: the best b on a log grid with the linear (a, c) for it.
    if kind == "exp":
        top = max(xs)
        grid = [10 ** (-3 + 5.7 * i / 199) / top for i in range(200)]
    else:
        grid = [10 ** (-4 + 5 * i / 199) for i in range(200)]
    best = None
    for b in grid:
        a, c = linear_ac(kind, xs, ys, b)
        s = sse(kind, xs, ys, (a, b, c))
        if best is None or s < best[0]:
            best = (s, (a, b, c))
    p = list(best[1])
    cur = best[0]
    lam = 1e-3
    for _ in range(500):
        jtj = [[0.0] * 3 for _ in range(3)]
        jtr = [0.0] * 3
        for x, y in zip(xs, ys):
            f, j = model(kind, x, *p)
            r = y - f
            for i in range(3):
                jtr[i] += j[i] * r
                for k in range(3):
                    jtj[i][k] += j[i] * j[k]
        improved = False
        while lam < 1e20:
            m = [[jtj[i][k] * (1 + lam if i == k else 1) for k in range(3)] for i in range(3)]
            try:
                step = solve3(m, jtr)
            except ZeroDivisionError:
                lam *= 10
                continue
            q = [p[i] + step[i] for i in range(3)]
            s = sse(kind, xs, ys, q) if q[1] > 0 else float("inf")
            if s < cur:
                rel = (cur - s) / max(cur, 1e-300)
                p, cur, lam = q, s, max(lam / 10, 1e-12)
                improved = True
                break
            lam *= 10
        if not improved or rel < 1e-15:
            break
    n = len(xs)
    sigma = math.sqrt(cur / (n - 3))
    jtj = [[0.0] * 3 for _ in range(3)]
    for x in xs:
        _, j = model(kind, x, *p)
        for i in range(3):
            for k in range(3):
                jtj[i][k] += j[i] * j[k]
    cov = inv3(jtj)
    se = [sigma * math.sqrt(cov[i][i]) for i in range(3)]
    return p, se, sigma


def ranks(v):
    order = sorted(range(len(v)), key=lambda i: v[i])
    r = [0.0] * len(v)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and v[order[j + 1]] == v[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def beta_reg_half(a, x, steps=20000):
    # I_x(a, 1/2): with u = 1 - v^2 the integrand u^(a-1) (1-u)^(-1/2) du becomes the smooth
    # 2 (1 - v^2)^(a-1) dv on [sqrt(1 - x), 1], integrated with Simpson's rule.
    lo = math.sqrt(1 - x)
    h = (1 - lo) / steps
    f = lambda v: 2 * (1 - v * v) ** (a - 1) if v < 1 else (2.0 if a == 1 else 0.0)
    s = f(lo) + f(1.0)
    for i in range(1, steps):
        s += (4 if i % 2 else 2) * f(lo + i * h)
    lbeta = math.lgamma(a) + math.lgamma(0.5) - math.lgamma(a + 0.5)
    return s * h / 3 / math.exp(lbeta)


def t_two_sided(t, df):
    if t == 0:
        return 1.0
    return beta_reg_half(df / 2, df / (df + t * t))


def t_cdf(t, df):
    p = 0.5 * t_two_sided(abs(t), df)
    return 1 - p if t > 0 else p


def main():
    mode = sys.argv[1]
    d = json.load(sys.stdin)
    if mode == "fit":
        kind = sys.argv[2]
        p, se, sigma = fit(kind, d["x"], d["y"])
        at = d.get("at", max(d["x"]))
        print(" ".join(repr(v) for v in p + se + [sigma, model(kind, at, *p)[0]]))
    elif mode == "spearman":
        rx, ry = ranks(d["x"]), ranks(d["y"])
        n = len(rx)
        mx, my = sum(rx) / n, sum(ry) / n
        sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
        sxx = sum((a - mx) ** 2 for a in rx)
        syy = sum((b - my) ** 2 for b in ry)
        rho = sxy / math.sqrt(sxx * syy)
        t = rho * math.sqrt((n - 2) / (1 - rho * rho))
        print(repr(rho), repr(t_two_sided(t, n - 2)))
    elif mode == "tquantile":
        lo, hi = -50.0, 50.0
        for _ in range(50):
            mid = (lo + hi) / 2
            if t_cdf(mid, d["df"]) < d["p"]:
                lo = mid
            else:
                hi = mid
        print(repr((lo + hi) / 2))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
