/* Risk explorer (chapters/explorer.md): the predicted risk of the HMM head
 * for the orthogonal encoder, computed in the browser.  Same formulas as
 * hmmrisk.theory (tests/test_explorer.py checks them against it):
 *   lambda = 0: Definition 3 (definition3: Theorem 1 exact for p < n - 1,
 *               infinite for n - 1 <= p <= n, Definition 2 with the
 *               quadratic's kappa for p > n);
 *   lambda > 0: the ridge deterministic equivalent (ridge_orthogonal).
 * No library, no network: the plot is a hand-drawn SVG.  Jupyter Book puts
 * every script of _static/ on every page; on pages without the explorer this
 * one only defines window.hmmExplorer. */
(function () {
  "use strict";
  const EPS = 2.220446049250313e-16, RTOL = 4 * EPS;

  // orthogonal_spectrum: s1 with multiplicity r = min(p, d) and weight b1; 1 with p - r
  function spectrum(p, d, noise, rho) {
    const r = Math.min(p, d), s1 = 1 + rho * Math.max(p, d) / d;
    return { r: r, s1: s1, b1: (s1 - 1) * (1 - noise) / (s1 * s1),
             tr: (1 - noise) * (d - r + r / s1) + d * noise };
  }

  // kappa_orthogonal: positive root of n k^2 + k [n(1+s1) - r s1 - (p-r)] - s1 (p-n) = 0
  function kappaLS(n, p, r, s1) {
    const bq = n * (1 + s1) - r * s1 - (p - r), c = s1 * (p - n);
    const root = Math.sqrt(bq * bq + 4 * n * c);
    return bq > 0 ? 2 * c / (bq + root) : (root - bq) / (2 * n);
  }

  // ridge kappa > lambda: root of r s1/(s1+k) + (p-r)/(1+k) + n lam/k - n, safeguarded Newton
  function kappaRidge(n, p, sp, lam) {
    const u = p - sp.r, sMin = u > 0 ? Math.min(sp.s1, 1) : sp.s1;
    let lo = Math.max(lam, p > n ? sMin * (p - n) / n : 0);
    let hi = lam + (sp.r * sp.s1 + u) / n;
    lo = Math.min(lo, hi);
    let k = lo;
    if (lo >= hi * (1 - RTOL)) return k;
    for (let it = 0; it < 400; it++) {
      const t1 = sp.r * sp.s1 / (sp.s1 + k), t0 = u / (1 + k), shrink = n * lam / k;
      const g = t1 + t0 + shrink - n;
      const dg = -t1 / (sp.s1 + k) - t0 / (1 + k) - shrink / k;
      if (g >= 0) lo = k;
      if (g <= 0) hi = k;
      const newton = k - g / dg;
      const kn = (isFinite(newton) && newton >= lo && newton <= hi) ? newton : Math.sqrt(lo * hi);
      if (Math.abs(kn - k) <= RTOL * kn) return kn;
      if (Math.abs(g) <= 8 * EPS * (t1 + t0 + shrink + n) || hi <= lo * (1 + RTOL)) return k;
      k = kn;
    }
    return k;
  }

  // {bias, variance, irreducible} at one model size p (non-integer allowed)
  function risk(n, p, d, noise, rho, lam) {
    const sp = spectrum(p, d, noise, rho), u = p - sp.r;
    let bias = 0, variance;
    if (lam > 0) {
      const k = kappaRidge(n, p, sp, lam);
      const w1 = sp.r * sp.s1 / Math.pow(sp.s1 + k, 2), w0 = u / Math.pow(1 + k, 2);
      const oneMinusD2 = lam / k + k * (w1 + w0) / n;
      bias = k * k * (w1 * sp.b1) / oneMinusD2;
      variance = sp.tr * ((w1 * sp.s1 + w0) / n) / oneMinusD2;
    } else if (p > n) {
      const k = kappaLS(n, p, sp.r, sp.s1);
      const w1 = sp.s1 / Math.pow(sp.s1 + k, 2), w0 = 1 / Math.pow(1 + k, 2);
      const den = sp.r * w1 + u * w0, d2 = (sp.r * sp.s1 * w1 + u * w0) / n;
      bias = n * k * sp.r * sp.b1 * w1 / den;
      variance = sp.tr * d2 / (k * den / n);
    } else {
      const gap = n - 1 - p;
      variance = sp.tr === 0 ? 0 : (gap > 0 ? sp.tr * p / gap : Infinity);
    }
    return { bias: bias, variance: variance, irreducible: sp.tr };
  }

  // model sizes: log-spaced on [1, pmax], denser towards the threshold from both sides
  function grid(n, pmax) {
    const ps = [], m = 240;
    for (let i = 0; i <= m; i++) ps.push(Math.pow(pmax, i / m));
    for (let j = 0; j <= 24; j++) {
      const e = Math.pow(10, -0.5 - 3.5 * j / 24);
      ps.push(n * (1 + e), (n - 1) * (1 - e));
    }
    return ps.filter(p => p >= 1 && p <= pmax).sort((a, b) => a - b);
  }

  // ---- drawing ------------------------------------------------------------
  const NS = "http://www.w3.org/2000/svg";
  const W = 340, H = 270, L = 52, R = 10, T = 24, B = 40;
  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  // numbers as a reader writes them: 0.5, 250, 3×10⁴, 10⁻³ (never 1e4)
  const SUP = { "-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074",
                "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079" };
  const fmt = v => {
    if (!(v >= 1e4 || v < 1e-2) || v === 0) return String(+v.toPrecision(3));
    const e = Math.floor(Math.log10(v) + 1e-9), m = +(v / Math.pow(10, e)).toPrecision(2);
    const pow = "10" + String(e).split("").map(c => SUP[c]).join("");
    return m === 1 ? pow : m + "\u00d7" + pow;
  };

  function panel(svg, x0, title, ps, ys, ref, n) {
    const g = el("g", { transform: "translate(" + x0 + ",0)" }, svg);
    // the vertical range leaves out the peak at the threshold (it is clipped)
    const away = (y, i) => isFinite(y) && y > 0 && Math.abs(ps[i] - n) > 0.05 * n;
    const fin = ys.filter(away).concat(ref.filter(away));
    const all = ys.filter(y => isFinite(y) && y > 0);
    let ylo = Math.log10(Math.min.apply(null, all)) - 0.1, yhi = Math.log10(Math.max.apply(null, fin)) + 0.3;
    if (yhi - ylo < 1) { ylo -= 0.5; yhi += 0.5; }
    const xhi = Math.log10(ps[ps.length - 1]);
    const X = p => L + (W - L - R) * Math.log10(p) / xhi;
    const Y = v => T + (H - T - B) * (yhi - Math.log10(v)) / (yhi - ylo);
    const id = "clip" + x0;
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B }, el("clipPath", { id: id }, g));
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "currentColor", "stroke-width": 0.8 }, g);
    for (let e = 0; e <= Math.floor(xhi); e++) {
      el("line", { x1: X(Math.pow(10, e)), x2: X(Math.pow(10, e)), y1: H - B, y2: H - B + 4, stroke: "currentColor" }, g);
      el("text", { x: X(Math.pow(10, e)), y: H - B + 16, "text-anchor": "middle", "font-size": 11, fill: "currentColor" }, g, fmt(Math.pow(10, e)));
    }
    for (let e = Math.ceil(ylo); e <= Math.floor(yhi); e++) {
      el("line", { x1: L - 4, x2: L, y1: Y(Math.pow(10, e)), y2: Y(Math.pow(10, e)), stroke: "currentColor" }, g);
      el("text", { x: L - 6, y: Y(Math.pow(10, e)) + 4, "text-anchor": "end", "font-size": 11, fill: "currentColor" }, g, fmt(Math.pow(10, e)));
    }
    el("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", "font-size": 12, fill: "currentColor" }, g, "model size p");
    el("text", { x: L, y: T - 8, "font-size": 12, "font-weight": "bold", fill: "currentColor" }, g, title);
    const path = (vals, attrs) => {
      let dstr = "", pen = false;
      vals.forEach((v, i) => {
        if (!(isFinite(v) && v > 0)) { pen = false; return; }
        dstr += (pen ? "L" : "M") + X(ps[i]).toFixed(2) + "," + Y(v).toFixed(2);
        pen = true;
      });
      return el("path", Object.assign({ d: dstr, fill: "none", "clip-path": "url(#" + id + ")" }, attrs), g);
    };
    if (n < ps[ps.length - 1]) {
      el("line", { x1: X(n), x2: X(n), y1: T, y2: H - B, stroke: "currentColor", "stroke-dasharray": "4 3", "stroke-width": 0.8, class: "threshold" }, g);
      el("text", { x: X(n) + 3, y: T + 12, "font-size": 11, fill: "currentColor" }, g, "p = n");
    }
    if (ref.length) path(ref, { stroke: "#999", "stroke-width": 1.2, "stroke-dasharray": "2 2", class: "least-squares" });
    const curve = path(ys, { stroke: "#1f77b4", "stroke-width": 2, class: "curve" });
    let best = -1;
    ys.forEach((v, i) => { if (isFinite(v) && (best < 0 || v < ys[best])) best = i; });
    el("circle", { cx: X(ps[best]), cy: Y(ys[best]), r: 4.5, fill: "#d62728", class: "best" }, g);
    el("text", { x: Math.min(X(ps[best]) + 6, W - R - 80), y: Math.max(Y(ys[best]) - 8, T + 26), "font-size": 11, fill: "#d62728" }, g,
       "best p \u2248 " + fmt(ps[best]));
    return { curve: curve, best: ps[best] };
  }

  function setup(root) {
    const $ = name => root.querySelector('[name="' + name + '"]');
    // slider position -> value: log scales for n, d, rho, lambda and the p range
    const scale = {
      n: x => Math.round(Math.pow(10, x)), d: x => Math.round(Math.pow(10, x)),
      noise: x => +x, snr: x => Math.pow(10, x), pmax: x => Math.round(Math.pow(10, x)),
      ridge: x => (+x <= -4 ? 0 : Math.pow(10, x)),
    };
    const svg = root.querySelector("svg");
    function update() {
      const v = {};
      for (const k in scale) {
        v[k] = scale[k]($(k).value);
        root.querySelector('output[for="hx-' + k + '"]').textContent = k === "ridge" && v[k] === 0 ? "0 (least squares)" : fmt(v[k]);
      }
      const ps = grid(v.n, v.pmax), rs = ps.map(p => risk(v.n, p, v.d, v.noise, v.snr, v.ridge));
      const ex = rs.map(q => q.bias + q.variance), tot = rs.map(q => q.bias + q.variance + q.irreducible);
      let refEx = [], refTot = [];
      if (v.ridge > 0) {
        const ls = ps.map(p => risk(v.n, p, v.d, v.noise, v.snr, 0));
        refEx = ls.map(q => q.bias + q.variance);
        refTot = ls.map(q => q.bias + q.variance + q.irreducible);
      }
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      const a = panel(svg, 0, "(a) excess risk", ps, ex, refEx, v.n);
      const b = panel(svg, W + 20, "(b) total risk", ps, tot, refTot, v.n);
      const clean = xs => xs.map(x => (isFinite(x) ? x : null));
      svg.dataset.curve = JSON.stringify({ params: v, p: ps, excess: clean(ex), total: clean(tot),
                                           bestExcess: a.best, bestTotal: b.best });
      root.querySelector(".explorer-best").textContent =
        "Smallest excess risk at p \u2248 " + fmt(a.best) + ", smallest total risk at p \u2248 " + fmt(b.best) +
        " (over the plotted range; p = 0, predicting 0, has excess risk 0 and total risk d = " + v.d + ").";
    }
    root.addEventListener("input", update);
    root.querySelector("button").addEventListener("click", () => {
      root.querySelectorAll("input").forEach(i => { i.value = i.defaultValue; });
      update();
    });
    update();
  }

  window.hmmExplorer = { spectrum: spectrum, risk: risk, grid: grid };
  const start = () => document.querySelectorAll(".hmm-explorer").forEach(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
