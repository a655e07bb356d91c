/* Risk explorer (chapters/explorer.ipynb): the predicted risk of the HMM head
 * for the orthogonal encoder, computed in the browser.  A second
 * implementation of hmmrisk.theory, written operation for operation as the
 * Python (tests/test_explorer.py compares the two to a relative 1e-12):
 *   lambda = 0: definition3 (Theorem 1 exact for p < n - 1, infinite for
 *               n - 1 <= p <= n, Definition 2 with the quadratic's kappa for
 *               p > n: kernel.kappa_two_point and kernel.bias_variance);
 *   lambda > 0: ridge_orthogonal (kernel.solve_kappa, the safeguarded Newton
 *               iteration of kernel.newton_in_bracket, and bias_variance).
 * Numbers are printed by the rules of hmmrisk.numbers.number (formatNumber).
 * No library, no network: the plots are hand-drawn SVG.  Jupyter Book puts
 * every script of _static/ on every page; on pages without the explorer this
 * one only defines window.hmmExplorer. */
(function () {
  "use strict";
  const EPS = 2.220446049250313e-16, RTOL = 4 * EPS;

  // ---- the formulas (hmmrisk.theory) ----------------------------------------
  // orthogonal_spectrum: s1 with multiplicity d_p = min(p, d) and weight b1, 1 with p - d_p
  function spectrum(p, d, noise, rho) {
    const dp = Math.min(p, d), signal = rho * (Math.max(p, d) / d), s1 = 1 + signal;
    return { dp: dp, s1: s1, b1: (signal / s1) * (1 - noise) / s1,
             tr: (1 - noise) * (d - dp + dp / s1) + d * noise };
  }

  // kernel.kappa_two_point: positive root of k^2/s1 + B k - C = 0 (the quadratic over n s1)
  function kappaLS(n, p, dp, s1) {
    const bq = (1 + 1 / s1) - dp / n - (p - dp) / n / s1, c = (p - n) / n;
    const root = Math.hypot(bq, 2 * Math.sqrt(c) / Math.sqrt(s1));
    return bq > 0 ? 2 * c / (bq + root) : (root - bq) * (0.5 * s1);
  }

  // kernel.solve_kappa + newton_in_bracket on the two-point spectrum: the ridge kappa
  function kappaRidge(n, p, sp, lam) {
    const nu = p - sp.dp, rank = sp.dp + nu;
    const sMin = nu > 0 ? Math.min(sp.s1, 1) : sp.s1;
    const traceN = sp.dp * (sp.s1 / n) + nu / n;
    let lo = Math.max(lam, rank > n ? sMin * ((rank - n) / n) : 0);
    let hi = lam + traceN;
    lo = Math.min(lo, hi);
    let k = lo;
    if (lo >= hi * (1 - RTOL)) return k;
    for (let it = 0; it < 400; it++) {
      const frac = sp.dp * (sp.s1 / (sp.s1 + k)), df = frac + nu / (1 + k), shrink = n * (lam / k);
      const slope = frac / (sp.s1 + k) + nu / (1 + k) / (1 + k) + shrink / k;
      const g = df + shrink - n, dg = -slope, scale = df + shrink + n;
      if (g >= 0) lo = k;
      if (g <= 0) hi = k;
      const newton = k - g / dg;
      const kNew = (isFinite(newton) && newton >= lo && newton <= hi) ? newton : Math.sqrt(lo) * Math.sqrt(hi);
      const stepSmall = Math.abs(kNew - k) <= RTOL * kNew;
      if (stepSmall) return kNew;
      if (Math.abs(g) <= 8 * EPS * scale || hi <= lo * (1 + RTOL)) return k;
      k = kNew;
    }
    return k;
  }

  // kernel.bias_variance on the two-point spectrum (scaled forms: t, u in [0, 1])
  function biasVariance(n, p, sp, k, lam) {
    const nu = p - sp.dp;
    const t = sp.s1 / (sp.s1 + k), u = k / (sp.s1 + k), t0 = 1 / (1 + k), u0 = k / (1 + k);
    const mn = sp.dp / n, un = nu / n;
    const oneMinusD2 = mn * t * u + un * t0 * u0 + lam / k;
    const d2 = mn * t * t + un * t0 * t0;
    return { bias: sp.dp * (sp.s1 * u) * u * sp.b1 / oneMinusD2, variance: sp.tr * d2 / oneMinusD2 };
  }

  // {bias, variance, irreducible} at one model size p (non-integer allowed)
  function risk(n, p, d, noise, rho, lam) {
    const sp = spectrum(p, d, noise, rho);
    let bv;
    if (lam > 0) bv = biasVariance(n, p, sp, kappaRidge(n, p, sp, lam), lam);
    else if (p > n) bv = biasVariance(n, p, sp, kappaLS(n, p, sp.dp, sp.s1), 0);
    else {                                            // theorem1, exact
      const gap = n - 1 - p;
      bv = { bias: 0, variance: sp.tr === 0 ? 0 : sp.tr * (gap > 0 ? p / gap : Infinity) };
    }
    return { bias: bv.bias, variance: bv.variance, irreducible: sp.tr };
  }

  // model sizes: the integers 1..pmax, log-spaced (every integer up to ~60), and
  // every integer within 6 of the threshold
  function grid(n, pmax) {
    const set = new Set(), m = 400;
    for (let i = 0; i <= m; i++) set.add(Math.round(Math.pow(pmax, i / m)));
    for (let j = -6; j <= 6; j++) set.add(n + j);
    return Array.from(set).filter(p => p >= 1 && p <= pmax).sort((a, b) => a - b);
  }

  // ---- numbers as hmmrisk.numbers.number prints them --------------------------
  // integers as integers (thin space every three digits from 10 000 on), other
  // numbers with `digits` significant digits (trailing zeros dropped only when
  // the value is exact), a × 10ⁿ below 10⁻³ and from 10⁵ on, a true minus sign.
  const MINUS = "\u2212", THIN = "\u202f", TIMES = "\u00d7";
  const SUP = { "-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074",
                "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079" };
  const group = s => {
    if (s.length < 5) return s;
    const head = s.length % 3 || 3, parts = [s.slice(0, head)];
    for (let i = head; i < s.length; i += 3) parts.push(s.slice(i, i + 3));
    return parts.join(THIN);
  };
  const power = e => "10" + String(e).split("").map(c => SUP[c]).join("");
  function scientific(sign, mag, digits) {
    let [mantissa, exponent] = mag.toExponential(digits - 1).split("e");
    if (mantissa.includes(".")) mantissa = mantissa.replace(/0+$/, "").replace(/\.$/, "");
    return sign + mantissa + " " + TIMES + " " + power(parseInt(exponent, 10));
  }
  // opts.integer: a count (n, d, p), printed whole at any size (Python's int branch)
  function formatNumber(x, digits = 3, opts = {}) {
    if (Number.isNaN(x)) throw new Error("formatNumber: NaN");
    if (!isFinite(x)) return x > 0 ? "\u221e" : MINUS + "\u221e";
    const sign = x < 0 ? MINUS : "", mag = Math.abs(x);
    if (opts.integer) return sign + group(String(Math.round(mag)));
    if (mag === 0) return "0";
    if (Number.isInteger(mag) && mag < 1e5) return sign + group(String(mag));
    if (mag >= 1e-3 && mag < 1e5) {
      const exponent = Math.floor(Math.log10(mag)), places = Math.max(digits - 1 - exponent, 0);
      let text = mag.toFixed(places);
      if (parseFloat(text) >= 1e5) return scientific(sign, mag, digits);
      if (text.includes(".") && parseFloat(text.replace(/0+$/, "").replace(/\.$/, "")) === mag)
        text = text.replace(/0+$/, "").replace(/\.$/, "");
      const [whole, frac] = text.split(".");
      return sign + group(whole) + (frac ? "." + frac : "");
    }
    return scientific(sign, mag, digits);
  }
  // axis labels (v = m × 10^e): 1, 10, 100, 1000, 0.05; powers 10⁴, 2 × 10⁴ from 10⁴ on and below 0.01
  const tickLabel = v => {
    const e = Math.floor(Math.log10(v) + 1e-9), m = Math.round(v / Math.pow(10, e));
    if (v >= 1e4 || v < 1e-2) return m === 1 ? power(e) : m + TIMES + power(e);
    return formatNumber(e >= 0 ? m * Math.pow(10, e) : m / Math.pow(10, -e));
  };

  // ticks of a log axis on [lo, hi] (log10 units): decades, then 1-2-5, then 1..9 as needed
  function logTicks(lo, hi) {
    const pick = ms => {
      const out = [];
      for (let e = Math.floor(lo) - 1; e <= Math.ceil(hi); e++)
        for (const m of ms) {
          const v = m * Math.pow(10, e), l = Math.log10(v);
          if (l >= lo - 1e-9 && l <= hi + 1e-9) out.push(v);
        }
      return out;
    };
    let major = pick([1]);
    const stride = Math.ceil(major.length / 6);        // at most ~6 labels
    major = major.filter((v, i) => i % stride === 0);
    if (major.length < 3) major = pick([1, 2, 5]);
    if (major.length < 3) major = pick([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const minor = hi - lo <= 4 ? pick([1, 2, 3, 4, 5, 6, 7, 8, 9]).filter(v => !major.includes(v)) : [];
    return { major: major, minor: minor };
  }

  // ---- drawing ------------------------------------------------------------------
  const NS = "http://www.w3.org/2000/svg";
  const W = 340, H = 290, L = 58, R = 12, T = 30, B = 44;     // panel size and margins
  function el(tag, attrs, parent, text) {
    const e = document.createElementNS(NS, tag);
    for (const a in attrs) e.setAttribute(a, attrs[a]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  function panel(svg, key, title, ylabel, ps, ys, ref, n) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    el("title", {}, svg, title + " against the model size p (log axes)");
    // the vertical range leaves out the peak at the threshold (it is clipped)
    const ok = y => isFinite(y) && y > 0;
    const away = (y, i) => ok(y) && Math.abs(ps[i] - n) > 0.05 * n;
    const all = ys.filter(ok).concat(ref.filter(ok));
    let fin = ys.filter(away).concat(ref.filter(away));
    if (!fin.length) fin = all;
    let ylo = Math.log10(Math.min.apply(null, all)), yhi = Math.log10(Math.max.apply(null, fin));
    if (yhi - ylo < 0.3) { const mid = (yhi + ylo) / 2; ylo = mid - 0.15; yhi = mid + 0.15; }
    const ypad = 0.08 * (yhi - ylo);
    ylo -= ypad; yhi += ypad;
    let xlo = Math.log10(ps[0]), xhi = Math.log10(ps[ps.length - 1]);
    const xpad = 0.04 * (xhi - xlo);
    xlo -= xpad; xhi += xpad;                       // the end points lie inside the frame
    const X = p => L + (W - L - R) * (Math.log10(p) - xlo) / (xhi - xlo);
    const Y = v => T + (H - T - B) * (yhi - Math.log10(v)) / (yhi - ylo);
    const id = "hx-clip-" + key;
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B }, el("clipPath", { id: id }, svg));
    const txt = (attrs, s) => el("text", Object.assign({ fill: "currentColor", "font-size": 11 }, attrs), svg, s);
    const xt = logTicks(xlo, xhi), yt = logTicks(ylo, yhi);
    for (const v of xt.minor) el("line", { x1: X(v), x2: X(v), y1: H - B, y2: H - B + 3, stroke: "currentColor", "stroke-width": 0.6 }, svg);
    for (const v of yt.minor) el("line", { x1: L - 3, x2: L, y1: Y(v), y2: Y(v), stroke: "currentColor", "stroke-width": 0.6 }, svg);
    for (const v of xt.major) {
      el("line", { x1: X(v), x2: X(v), y1: T, y2: H - B, class: "hx-grid" }, svg);
      el("line", { x1: X(v), x2: X(v), y1: H - B, y2: H - B + 5, stroke: "currentColor" }, svg);
      txt({ x: X(v), y: H - B + 17, "text-anchor": "middle", class: "hx-tick" }, tickLabel(v));
    }
    for (const v of yt.major) {
      el("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "hx-grid" }, svg);
      el("line", { x1: L - 5, x2: L, y1: Y(v), y2: Y(v), stroke: "currentColor" }, svg);
      txt({ x: L - 7, y: Y(v) + 4, "text-anchor": "end", class: "hx-tick" }, tickLabel(v));
    }
    el("rect", { x: L, y: T, width: W - L - R, height: H - T - B, fill: "none", stroke: "currentColor", "stroke-width": 0.8 }, svg);
    txt({ x: (L + W - R) / 2, y: H - 8, "text-anchor": "middle", "font-size": 12, class: "hx-xlabel" }, "model size p (log scale)");
    txt({ x: 14, y: (T + H - B) / 2, "text-anchor": "middle", "font-size": 12, class: "hx-ylabel",
          transform: "rotate(-90 14 " + (T + H - B) / 2 + ")" }, ylabel + " (log scale)");
    txt({ x: L, y: T - 10, "font-size": 12, "font-weight": "bold" }, title);
    const path = (vals, attrs) => {
      let dstr = "", pen = false;
      vals.forEach((v, i) => {
        if (!ok(v)) { pen = false; return; }
        dstr += (pen ? "L" : "M") + X(ps[i]).toFixed(2) + "," + Y(v).toFixed(2);
        pen = true;
      });
      return el("path", Object.assign({ d: dstr, fill: "none", "clip-path": "url(#" + id + ")" }, attrs), svg);
    };
    if (n >= ps[0] && n <= ps[ps.length - 1]) {
      el("line", { x1: X(n), x2: X(n), y1: T, y2: H - B, class: "threshold" }, svg);
      const right = X(n) < W - R - 40;
      txt({ x: X(n) + (right ? 3 : -3), y: T + 12, "text-anchor": right ? "start" : "end" }, "p = n");
    }
    if (ref.length) path(ref, { class: "least-squares" });
    const curve = path(ys, { class: "curve" });
    let best = -1;
    ys.forEach((v, i) => { if (isFinite(v) && (best < 0 || v < ys[best])) best = i; });
    const bx = X(ps[best]), by = Y(ys[best]);
    el("circle", { cx: bx, cy: by, r: 4.5, class: "best" }, svg);
    // the label where it stays inside the frame and covers the fewest points of the curves
    const label = "p = " + formatNumber(ps[best], 3, { integer: true });
    const wl = 6.6 * label.length, hl = 11;
    const pts = [];
    [ys, ref].forEach(vals => vals.forEach((v, i) => { if (ok(v)) pts.push([X(ps[i]), Y(v)]); }));
    let place = null;
    for (const [dx, dy] of [[8, 4 + hl], [-8 - wl, 4 + hl], [8, -8], [-8 - wl, -8], [8, 4], [-8 - wl, 4]]) {
      const x0 = bx + dx, y1 = by + dy, y0 = y1 - hl;     // text box: [x0, x0 + wl] x [y0, y1]
      if (x0 < L + 2 || x0 + wl > W - R - 2 || y0 < T + 2 || y1 > H - B - 2) continue;
      const hits = pts.filter(([x, y]) => x >= x0 - 2 && x <= x0 + wl + 2 && y >= y0 - 2 && y <= y1 + 2).length;
      if (!place || hits < place.hits) place = { x: x0, y: y1 - 1, hits: hits };
    }
    if (!place) place = { x: Math.min(Math.max(bx + 8, L + 2), W - R - wl - 2), y: Math.max(by - 8, T + hl + 2) };
    txt({ x: place.x, y: place.y, class: "best-label" }, label);
    return { curve: curve, best: best };
  }

  // slider position -> value, and the value's readout (exact: hmmrisk.numbers' rules)
  const CONTROLS = {
    n: { value: x => Math.round(Math.pow(10, x)), text: v => formatNumber(v, 3, { integer: true }) },
    d: { value: x => Math.round(Math.pow(10, x)), text: v => formatNumber(v, 3, { integer: true }) },
    noise: { value: x => +x, text: v => formatNumber(v) },
    snr: { value: x => Math.pow(10, x), text: v => formatNumber(v) },
    ridge: { value: x => (+x <= -4 ? 0 : Math.pow(10, x)), text: v => (v === 0 ? "0 (least squares)" : formatNumber(v)) },
    pmax: { value: x => Math.round(Math.pow(10, x)), text: v => formatNumber(v, 3, { integer: true }) },
  };
  const SPOKEN = { n: "sample size n", d: "token dimension d", noise: "chain noise sigma squared",
                   snr: "encoder signal-to-noise rho", ridge: "ridge penalty lambda", pmax: "largest model size" };

  function setup(root) {
    const $ = name => root.querySelector('input[name="' + name + '"]');
    const svgs = { excess: root.querySelector('svg[data-panel="excess"]'), total: root.querySelector('svg[data-panel="total"]') };
    const legendRidge = root.querySelectorAll(".hx-if-ridge");
    function update() {
      const v = {};
      for (const k in CONTROLS) {
        v[k] = CONTROLS[k].value($(k).value);
        const text = CONTROLS[k].text(v[k]);
        root.querySelector('output[for="hx-' + k + '"]').textContent = text;
        $(k).setAttribute("aria-valuetext", SPOKEN[k] + " = " + text.replace(/\u202f/g, ""));
      }
      const ps = grid(v.n, v.pmax), rs = ps.map(p => risk(v.n, p, v.d, v.noise, v.snr, v.ridge));
      const ex = rs.map(q => q.bias + q.variance), tot = rs.map(q => q.bias + q.variance + q.irreducible);
      let refEx = [], refTot = [];
      if (v.ridge > 0) {
        const ls = ps.map(p => risk(v.n, p, v.d, v.noise, v.snr, 0));
        refEx = ls.map(q => q.bias + q.variance);
        refTot = ls.map(q => q.bias + q.variance + q.irreducible);
      }
      const a = panel(svgs.excess, "excess", "(a) excess risk", "predicted excess risk", ps, ex, refEx, v.n);
      const b = panel(svgs.total, "total", "(b) total next-token risk", "predicted total risk", ps, tot, refTot, v.n);
      legendRidge.forEach(e => { e.hidden = !(v.ridge > 0); });
      root.querySelector(".hx-curve-name").textContent =
        v.ridge > 0 ? "ridge head, \u03bb = " + formatNumber(v.ridge) : "least-squares head (\u03bb = 0)";
      const clean = xs => xs.map(x => (isFinite(x) ? x : null));
      root.dataset.curve = JSON.stringify({ params: v, p: ps, excess: clean(ex), total: clean(tot),
                                            bestExcess: ps[a.best], bestTotal: ps[b.best] });
      const at = (i, ys) => {
        const edge = i === ps.length - 1 ? " (the right end of the plotted range: it falls further beyond)" :
                     i === 0 ? " (the left end of the plotted range)" : "";
        return formatNumber(ys[i]) + " at p = " + formatNumber(ps[i], 3, { integer: true }) + edge;
      };
      root.querySelector(".explorer-best").textContent =
        "Smallest on the plotted range: excess risk " + at(a.best, ex) + "; total risk " + at(b.best, tot) +
        ". With no features (p = 0) the excess risk is 0 and the total risk is d = " +
        formatNumber(v.d, 3, { integer: true }) + ".";
    }
    root.addEventListener("input", update);
    root.querySelector("button").addEventListener("click", () => {
      root.querySelectorAll("input").forEach(i => { i.value = i.defaultValue; });
      update();
    });
    update();
  }

  window.hmmExplorer = { spectrum: spectrum, risk: risk, grid: grid, formatNumber: formatNumber, logTicks: logTicks };
  const start = () => document.querySelectorAll(".hmm-explorer").forEach(setup);
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
