/* The course's explorers, live in the reader's browser (no kernel).

Each <div class="av-explorer"> written by attn_course/web.py holds a JSON spec (the explorer's inputs
and controls) and the matplotlib snapshot as the fallback for readers without JavaScript. This script
replaces the snapshot by labelled controls and an SVG picture, and redraws on every input event.

The arithmetic follows attn_course in float64 (JavaScript numbers) and in the same order of operations:
softmax_ shifts by the row maximum, then divides by T, exponentiates, divides by the sum, and gives a
row with no key left all zeros; attention scales q before q·k. The results agree with the package to
roundoff (tests/test_live_site.py checks 1e-12), not bit for bit: Math.exp is not NumPy's exp.

Plain SVG, no charting library: each picture is a few dozen elements whose attributes change per event,
so a library would add weight and a second idea of the picture without removing the first (matplotlib
stays the picture in the kernel).
*/
(function () {
  "use strict";

  // ----------------------------------------------------------------------------------------------
  // The math (attn_course.softmax.softmax_, attention.scaled_dot_product_attention, the explorers)

  function sum(a) {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i];
    return s;
  }

  /** softmax_(z, T): z with -Infinity for masked entries; a row with nothing left gives all zeros. */
  function softmax(z, T) {
    if (T === undefined) T = 1;
    let max = -Infinity;
    for (const v of z) if (v > max) max = v;
    if (max === -Infinity) max = 0;
    const out = new Array(z.length);
    for (let i = 0; i < z.length; i++) {
      let v = z[i] - max;
      if (T !== 1) v /= T;
      out[i] = Math.exp(v);
    }
    const total = sum(out);
    const d = total > 0 ? total : 1;
    for (let i = 0; i < out.length; i++) out[i] /= d;
    return out;
  }

  /** scaled_dot_product_attention's weights: q (n_q, d), k (n_k, d); allowed(i, j) or null. */
  function attentionWeights(q, k, allowed) {
    const scale = 1 / Math.sqrt(q[0].length);
    return q.map((qi, i) => {
      const qs = qi.map((x) => x * scale); // scale q, not the scores, as the package does
      return softmax(k.map((kj, j) => {
        if (allowed && !allowed(i, j)) return -Infinity;
        let s = 0;
        for (let d = 0; d < qs.length; d++) s += qs[d] * kj[d];
        return s;
      }));
    });
  }

  const math = {
    softmax: softmax,
    attentionWeights: attentionWeights,
    /** SoftmaxExplorer: softmax(logits, temperature=T). */
    softmaxExplorer: (logits, T) => softmax(logits, T),
    /** WeightedSumExplorer: query from (angle°, length), weights of q over the keys, output Σ w_i v_i. */
    weightedSum(keys, values, angle, length) {
      const rad = angle * (Math.PI / 180); // np.radians
      const q = [length * Math.cos(rad), length * Math.sin(rad)];
      const w = attentionWeights([q], keys, null)[0];
      const path = [[0, 0]]; // np.cumsum of w_i v_i, from the origin
      for (let i = 0; i < w.length; i++) {
        const last = path[path.length - 1];
        path.push([last[0] + w[i] * values[i][0], last[1] + w[i] * values[i][1]]);
      }
      return {query: q, weights: w, path: path, output: path[path.length - 1]};
    },
    /** MaskExplorer: self-attention of x over the keys switched on (and causal). */
    mask(x, on, causal) {
      return attentionWeights(x, x, (i, j) => on[j] && (!causal || j <= i));
    },
    truth: (x) => 2 * Math.sin(x) + Math.pow(x, 0.8),
    /** KernelRegressionExplorer: weights softmax(-(x - x_i)² / (2 h²)) and the prediction Σ_i w_i y_i. */
    kernelRegression(xTrain, noise, xTest, h) {
      const y = xTrain.map((x, i) => math.truth(x) + noise[i]);
      const twoH2 = 2 * h ** 2;
      const weights = xTest.map((x) => softmax(xTrain.map((xi) => -((x - xi) ** 2) / twoH2)));
      const prediction = weights.map((w) => {
        let s = 0;
        for (let i = 0; i < w.length; i++) s += w[i] * y[i];
        return s;
      });
      return {y: y, weights: weights, prediction: prediction};
    },
    /** ScalingExplorer: the first d of the seeded q and keys; softmax of the raw and of the scaled row. */
    scaling(qRow, kRow, d) {
      const row = kRow.map((k) => {
        let s = 0;
        for (let i = 0; i < d; i++) s += k[i] * qRow[i];
        return s;
      });
      const root = Math.sqrt(d);
      return {raw: softmax(row), scaled: softmax(row.map((s) => s / root))};
    },
    /** rotary_embedding of one vector x (d,) at `position`: pair i turned by position · base^(-2i/d). */
    rotary(x, position, base) {
      const d = x.length, out = new Array(d);
      for (let j = 0; j < d; j += 2) {
        const angle = position * Math.pow(base, -j / d); // theta = base ** (-arange(0, d, 2) / d)
        const cos = Math.cos(angle), sin = Math.sin(angle);
        out[j] = x[j] * cos - x[j + 1] * sin;
        out[j + 1] = x[j] * sin + x[j + 1] * cos;
      }
      return out;
    },
    /** RotaryExplorer.score: R_m q · R_n k. */
    rotaryScore(q, k, m, n, base) {
      const qr = math.rotary(q, m, base), kr = math.rotary(k, n, base);
      let s = 0;
      for (let j = 0; j < qr.length; j++) s += qr[j] * kr[j];
      return s;
    },
    /** np.histogram(..., density=True) from counts: n / db / n.sum(). */
    density(counts, edges) {
      const total = sum(counts);
      return counts.map((n, i) => n / (edges[i + 1] - edges[i]) / total);
    },
  };

  /** Python's f"{x:.<digits>f}": correctly rounded, ties to even (toFixed rounds an exact tie away from 0). */
  function fixed(x, digits) {
    const s = x.toFixed(digits);
    const exact = Math.abs(x).toFixed(100); // the double's exact decimal expansion
    const cut = exact.indexOf(".") + 1 + digits;
    if (exact[cut] !== "5" || !/^0*$/.test(exact.slice(cut + 1)) || Number(s[s.length - 1]) % 2 === 0) return s;
    return (x < 0 ? "-" : "") + exact.slice(0, cut).replace(/\.$/, ""); // the even neighbour, toward 0
  }

  // ----------------------------------------------------------------------------------------------
  // Drawing: small SVG helpers

  const NS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, parent, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function linear(d0, d1, r0, r1) {
    const f = (v) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0);
    return f;
  }

  /** A panel: an <svg> with a viewBox, its plot area, axes titles. */
  function panel(parent, width, height, title, margin) {
    const m = Object.assign({top: 24, right: 10, bottom: 34, left: 40}, margin || {});
    const svg = el("svg", {viewBox: `0 0 ${width} ${height}`, class: "av-panel", role: "img"}, parent);
    svg.style.maxWidth = width * 1.4 + "px";
    if (title) el("text", {x: width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, svg, title);
    return {svg: svg, m: m, x0: m.left, x1: width - m.right, y0: m.top, y1: height - m.bottom, width: width, height: height};
  }

  function axisLabel(p, text, vertical) {
    if (vertical) {
      const x = 10, y = (p.y0 + p.y1) / 2;
      el("text", {x: x, y: y, transform: `rotate(-90 ${x} ${y})`, "text-anchor": "middle", class: "av-axis-label"}, p.svg, text);
    } else {
      el("text", {x: (p.x0 + p.x1) / 2, y: p.height - 4, "text-anchor": "middle", class: "av-axis-label"}, p.svg, text);
    }
  }

  function yTicks(p, y, ticks) {
    el("line", {x1: p.x0, x2: p.x0, y1: p.y0, y2: p.y1, class: "av-axis"}, p.svg);
    for (const t of ticks) {
      el("line", {x1: p.x0 - 3, x2: p.x0, y1: y(t), y2: y(t), class: "av-axis"}, p.svg);
      el("text", {x: p.x0 - 5, y: y(t) + 3, "text-anchor": "end", class: "av-tick"}, p.svg, String(t));
    }
  }

  /** Bars on a [0, 1.1] axis with their value on top (viz.softmax_bars); returns update(heights). */
  function bars(p, labels, color, offsets) {
    const n = labels.length;
    const y = linear(0, 1.1, p.y1, p.y0);
    yTicks(p, y, [0, 0.5, 1]);
    el("line", {x1: p.x0, x2: p.x1, y1: p.y1, y2: p.y1, class: "av-axis"}, p.svg);
    const band = (p.x1 - p.x0) / n;
    labels.forEach((label, i) => el("text", {x: p.x0 + band * (i + 0.5), y: p.y1 + 12, "text-anchor": "middle", class: "av-tick"}, p.svg, label));
    const series = (offsets || [{dx: 0, width: 0.7, color: color, text: true}]).map((s) => {
      const w = band * s.width;
      const rects = labels.map((_, i) => el("rect", {x: p.x0 + band * (i + 0.5 + s.dx) - w / 2, y: p.y1, width: w, height: 0, fill: s.color, class: "av-bar"}, p.svg));
      const texts = s.text ? labels.map((_, i) => el("text", {x: p.x0 + band * (i + 0.5), y: p.y1, "text-anchor": "middle", class: "av-value"}, p.svg, "")) : [];
      return {rects: rects, texts: texts};
    });
    return function update(heightsPerSeries) {
      heightsPerSeries.forEach((heights, s) => {
        const {rects, texts} = series[s];
        heights.forEach((h, i) => {
          rects[i].setAttribute("y", y(h));
          rects[i].setAttribute("height", p.y1 - y(h));
          rects[i].dataset.v = String(h);
          if (texts[i]) {
            texts[i].setAttribute("y", y(h + 0.02) - 2);
            texts[i].textContent = fixed(h, 2);
          }
        });
      });
    };
  }

  /** "#rrggbb" colours as [r, g, b] bytes. */
  const rgbCache = new Map();
  function rgb(cmap) {
    if (!rgbCache.has(cmap)) rgbCache.set(cmap, cmap.map((c) => [1, 3, 5].map((k) => parseInt(c.slice(k, k + 2), 16))));
    return rgbCache.get(cmap);
  }

  /** A heatmap of an (n_q, n_k) matrix, colour scale opts.scale = [lo, hi] (default [0, 1], as viz.heatmap
  for weights); returns update(weights).
  The cells are the pixels of an n_k x n_q canvas, stretched over the plot area: one putImageData per
  event instead of n_q * n_k SVG attribute changes (a 50 x 50 map would not fit in a frame). */
  function heatmap(p, nq, nk, cmap, opts) {
    const o = opts || {};
    const cw = (p.x1 - p.x0) / nk, ch = (p.y1 - p.y0) / nq;
    const holder = el("foreignObject", {x: p.x0, y: p.y0, width: p.x1 - p.x0, height: p.y1 - p.y0}, p.svg);
    const canvas = document.createElement("canvas");
    canvas.width = nk;
    canvas.height = nq;
    canvas.className = "av-cells";
    holder.appendChild(canvas);
    const ctx = canvas.getContext("2d");
    const image = ctx.createImageData(nk, nq);
    const colours = rgb(cmap);
    const texts = [];
    if (o.annotate) {
      for (let i = 0; i < nq; i++) {
        texts.push([]);
        for (let j = 0; j < nk; j++) texts[i].push(el("text", {x: p.x0 + (j + 0.5) * cw, y: p.y0 + (i + 0.5) * ch + 3, "text-anchor": "middle", class: "av-cell-value"}, p.svg, ""));
      }
    }
    if (o.xLabels) o.xLabels.forEach((t, j) => el("text", {x: p.x0 + (j + 0.5) * cw, y: p.y1 + 11, "text-anchor": "middle", class: "av-tick"}, p.svg, t));
    if (o.yLabels) o.yLabels.forEach((t, i) => el("text", {x: p.x0 - 4, y: p.y0 + (i + 0.5) * ch + 3, "text-anchor": "end", class: "av-tick"}, p.svg, t));
    function update(w) {
      const [lo, hi] = o.scale || [0, 1];
      const px = image.data;
      for (let i = 0; i < nq; i++) {
        for (let j = 0; j < nk; j++) {
          const v = w[i][j];
          const t = hi > lo ? (v - lo) / (hi - lo) : 0;
          const c = colours[Math.max(0, Math.min(255, Math.floor(t * 256)))];
          const k = 4 * (i * nk + j);
          px[k] = c[0]; px[k + 1] = c[1]; px[k + 2] = c[2]; px[k + 3] = 255;
          if (o.annotate) {
            texts[i][j].textContent = v !== 0 ? fixed(v, 2) : ""; // exactly 0: masked, left blank
            texts[i][j].setAttribute("fill", v - lo < 0.6 * (hi - lo) ? "white" : "black");
          }
        }
      }
      ctx.putImageData(image, 0, 0);
      update.cells = w; // what the cells show, for drawn()
    }
    /** The cells' colours as painted, read back from the canvas: (n_q, n_k, 3) bytes. */
    update.colours = () => {
      const px = ctx.getImageData(0, 0, nk, nq).data;
      return Array.from({length: nq}, (_, i) => Array.from({length: nk}, (_, j) => Array.from(px.slice(4 * (i * nk + j), 4 * (i * nk + j) + 3))));
    };
    return update;
  }

  function arrow(parent, color, width) {
    const g = el("g", {class: "av-arrow"}, parent);
    const line = el("line", {stroke: color, "stroke-width": width}, g);
    const head = el("polygon", {fill: color}, g);
    return function set(x0, y0, x1, y1, tip) {
      line.setAttribute("x1", x0); line.setAttribute("y1", y0);
      const dx = x1 - x0, dy = y1 - y0, len = Math.hypot(dx, dy) || 1;
      const size = Math.min(7, len * 0.4) + width;
      const ux = dx / len, uy = dy / len;
      line.setAttribute("x2", x1 - ux * size * 0.8); line.setAttribute("y2", y1 - uy * size * 0.8);
      head.setAttribute("points", `${x1},${y1} ${x1 - ux * size - uy * size / 2},${y1 - uy * size + ux * size / 2} ${x1 - ux * size + uy * size / 2},${y1 - uy * size - ux * size / 2}`);
      if (tip) g.dataset.tip = JSON.stringify(tip);
    };
  }

  // ----------------------------------------------------------------------------------------------
  // Controls: a label, a range input, and the value as ipywidgets shows it

  let uid = 0;

  /** s: {label, value, min, max, step, log?, base?}; the value starts at s.value even when it is off the
  step grid (a range input would snap it; ipywidgets keeps it) and moves only with the input. */
  function slider(parent, s, format, onChange, options) {
    const row = document.createElement("div");
    row.className = "av-control";
    const id = `av-control-${++uid}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = s.label;
    const input = document.createElement("input");
    input.type = "range";
    input.id = id;
    const out = document.createElement("output");
    out.htmlFor = id;
    const toValue = options ? (x) => options[Math.round(x)] : s.log ? (x) => Math.pow(s.base, x) : (x) => x;
    const fromValue = options ? (v) => options.indexOf(v) : s.log ? (v) => Math.log(v) / Math.log(s.base) : (v) => v;
    if (options) Object.assign(input, {min: 0, max: options.length - 1, step: 1});
    else Object.assign(input, {min: s.min, max: s.max, step: s.step});
    let value = s.value;
    const show = () => { out.textContent = format(value); input.setAttribute("aria-valuetext", `${s.label} ${format(value)}`); };
    input.value = fromValue(value);
    show();
    input.addEventListener("input", () => { value = toValue(Number(input.value)); show(); onChange(); });
    row.append(label, input, out);
    parent.appendChild(row);
    return {
      get: () => value,
      set(v) { value = v; input.value = fromValue(v); show(); onChange(); },
      input: input,
    };
  }

  function controlsBox(root) {
    const box = document.createElement("div");
    box.className = "av-controls";
    root.appendChild(box);
    return box;
  }

  const f2 = (v) => fixed(v, 2), f0 = (v) => fixed(v, 0), int = (v) => String(v);

  // ----------------------------------------------------------------------------------------------
  // The explorers: build(root, spec) returns {controls: {name: control}, drawn()}

  const explorers = {};

  explorers.softmax = function (root, s) {
    const box = controlsBox(root);
    const controls = {};
    const redraw = () => {
      const logits = s.labels.map((l) => controls[l].get());
      const T = controls.T.get();
      const probs = math.softmaxExplorer(logits, T);
      update([probs]);
      title.textContent = `softmax(z / T),  T = ${f2(T)}`;
      drawn = {probs: probs};
    };
    let drawn = null, ready = false;
    const later = () => ready && redraw();
    s.logits.forEach((c, i) => { controls[s.labels[i]] = slider(box, c, f2, later); });
    controls.T = slider(box, s.T, f2, later);
    const p = panel(root, 90 + 44 * s.labels.length, 210, "", {left: 40});
    const title = el("text", {x: p.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, p.svg, "");
    axisLabel(p, "probability", true);
    axisLabel(p, "token");
    const update = bars(p, s.labels, s.bar);
    ready = true;
    redraw();
    return {controls: controls, drawn: () => readBars(p.svg, drawn, ["probs"])};
  };

  /** What the bars show, read back from the DOM (their data values), per series name. */
  function readBars(svg, computed, names) {
    const rects = Array.from(svg.querySelectorAll("rect.av-bar"));
    const per = rects.length / names.length;
    const out = {};
    names.forEach((name, k) => { out[name] = rects.slice(k * per, (k + 1) * per).map((r) => Number(r.dataset.v)); });
    out.computed = computed;
    return out;
  }

  explorers.weighted_sum = function (root, s) {
    const box = controlsBox(root);
    let ready = false;
    const later = () => ready && redraw();
    const controls = {angle: slider(box, s.angle, f0, later), length: slider(box, s.length, f2, later)};
    const figure = document.createElement("div");
    figure.className = "av-figure";
    root.appendChild(figure);
    // left: keys and the query
    const pk = panel(figure, 220, 220, "keys and query q", {left: 30, bottom: 30});
    let maxK = 0;
    for (const k of s.keys) maxK = Math.max(maxK, Math.abs(k[0]), Math.abs(k[1]));
    const lim = 1.1 * Math.max(maxK, s.length.max);
    const side = Math.min(pk.x1 - pk.x0, pk.y1 - pk.y0);
    const kx = linear(-lim, lim, pk.x0, pk.x0 + side), ky = linear(-lim, lim, pk.y0 + side, pk.y0);
    el("line", {x1: kx(-lim), x2: kx(lim), y1: ky(0), y2: ky(0), class: "av-grid"}, pk.svg);
    el("line", {x1: kx(0), x2: kx(0), y1: ky(-lim), y2: ky(lim), class: "av-grid"}, pk.svg);
    s.keys.forEach((k, i) => {
      arrow(pk.svg, "#999", 2)(kx(0), ky(0), kx(k[0]), ky(k[1]));
      el("text", {x: kx(1.12 * k[0]), y: ky(1.12 * k[1]) + 3, "text-anchor": "middle", class: "av-tick"}, pk.svg, s.labels[i]);
    });
    const query = arrow(pk.svg, s.accent, 3);
    // middle: the weights
    const pw = panel(figure, 200, 220, "w = softmax(q·k / √2)");
    axisLabel(pw, "weight", true);
    axisLabel(pw, "key");
    const update = bars(pw, s.labels, s.bar);
    // right: the values, the path w1 v1 + w2 v2 + ..., the output
    const pv = panel(figure, 220, 220, "output Σ w_i v_i", {left: 30, bottom: 30});
    let maxV = 0;
    for (const v of s.values) maxV = Math.max(maxV, Math.abs(v[0]), Math.abs(v[1]));
    const vl = 1.25 * maxV, vside = Math.min(pv.x1 - pv.x0, pv.y1 - pv.y0);
    const vx = linear(-vl, vl, pv.x0, pv.x0 + vside), vy = linear(-vl, vl, pv.y0 + vside, pv.y0);
    el("line", {x1: vx(-vl), x2: vx(vl), y1: vy(0), y2: vy(0), class: "av-grid"}, pv.svg);
    el("line", {x1: vx(0), x2: vx(0), y1: vy(-vl), y2: vy(vl), class: "av-grid"}, pv.svg);
    s.values.forEach((v) => arrow(pv.svg, "#999", 2)(vx(0), vy(0), vx(v[0]), vy(v[1])));
    const valueTexts = s.values.map((v) => el("text", {x: vx(1.08 * v[0]), y: vy(1.08 * v[1]) + 3, "text-anchor": "middle", class: "av-tick"}, pv.svg, ""));
    const path = el("polyline", {class: "av-path", fill: "none"}, pv.svg);
    const output = arrow(pv.svg, s.accent, 3);
    let drawn = null;
    function redraw() {
      const r = math.weightedSum(s.keys, s.values, controls.angle.get(), controls.length.get());
      query(kx(0), ky(0), kx(r.query[0]), ky(r.query[1]), r.query);
      update([r.weights]);
      path.setAttribute("points", r.path.map((pt) => `${vx(pt[0])},${vy(pt[1])}`).join(" "));
      output(vx(0), vy(0), vx(r.output[0]), vy(r.output[1]), r.output);
      valueTexts.forEach((t, i) => { t.textContent = `${s.labels[i]} ${f2(r.weights[i])}`; });
      drawn = r;
    }
    ready = true;
    redraw();
    return {
      controls: controls,
      drawn() {
        const tips = Array.from(root.querySelectorAll(".av-arrow")).filter((g) => g.dataset.tip).map((g) => JSON.parse(g.dataset.tip));
        const b = readBars(pw.svg, drawn, ["weights"]);
        return {query: tips[0], weights: b.weights, output: tips[1], computed: drawn};
      },
    };
  };

  explorers.scaling = function (root, s) {
    const box = controlsBox(root);
    let ready = false;
    const controls = {d_k: slider(box, {label: "d_k", value: s.d_k}, int, () => ready && redraw(), s.d_ks)};
    const figure = document.createElement("div");
    figure.className = "av-figure";
    root.appendChild(figure);
    const ph = panel(figure, 300, 220, "scores of random q, k");
    const edges = s.edges;
    const x = linear(edges[0], edges[edges.length - 1], ph.x0, ph.x1), y = linear(0, 0.6, ph.y1, ph.y0);
    yTicks(ph, y, [0, 0.2, 0.4, 0.6]);
    el("line", {x1: ph.x0, x2: ph.x1, y1: ph.y1, y2: ph.y1, class: "av-axis"}, ph.svg);
    for (const t of [-60, -30, 0, 30, 60]) el("text", {x: x(t), y: ph.y1 + 12, "text-anchor": "middle", class: "av-tick"}, ph.svg, String(t));
    axisLabel(ph, "score");
    axisLabel(ph, "density", true);
    const raw = el("path", {fill: s.input, class: "av-hist", "data-name": "raw"}, ph.svg);
    const scaled = el("path", {fill: "none", stroke: s.accent, "stroke-width": 1.5, class: "av-hist", "data-name": "scaled"}, ph.svg);
    const spread = el("text", {x: ph.x0 + 4, y: ph.y0 + 10, class: "av-tick"}, ph.svg, "");
    el("text", {x: ph.x1, y: ph.y0 + 10, "text-anchor": "end", class: "av-tick", fill: s.accent}, ph.svg, "— q·k / √d_k");
    el("text", {x: ph.x1, y: ph.y0 + 22, "text-anchor": "end", class: "av-tick"}, ph.svg, "▮ q·k");
    const ps = panel(figure, 300, 220, "");
    const title = el("text", {x: ps.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, ps.svg, "");
    axisLabel(ps, "key");
    axisLabel(ps, "weight", true);
    const labels = s.k_row.map((_, i) => String(i));
    const update = bars(ps, labels, null, [{dx: -0.2, width: 0.4, color: s.input}, {dx: 0.2, width: 0.4, color: s.accent}]);
    function stairs(path, density, closed) {
      let d = `M${x(edges[0])},${y(0)}`;
      density.forEach((v, i) => { d += `L${x(edges[i])},${y(v)}L${x(edges[i + 1])},${y(v)}`; });
      d += `L${x(edges[edges.length - 1])},${y(0)}` + (closed ? "Z" : "");
      path.setAttribute("d", d);
      path.dataset.v = JSON.stringify(density);
    }
    let drawn = null;
    function redraw() {
      const d = controls.d_k.get(), k = s.d_ks.indexOf(d);
      const rawDensity = math.density(s.raw_counts[k], edges), scaledDensity = math.density(s.scaled_counts[k], edges);
      stairs(raw, rawDensity, true);
      stairs(scaled, scaledDensity, false);
      spread.textContent = `std of q·k: ${s.std[k]}  (√d_k = ${fixed(Math.sqrt(d), 1)})`;
      const r = math.scaling(s.q_row, s.k_row, d);
      update([r.raw, r.scaled]);
      title.textContent = `largest weight ${f2(Math.max(...r.raw))} → ${f2(Math.max(...r.scaled))} scaled`;
      drawn = {raw_hist: rawDensity, scaled_hist: scaledDensity, softmax_raw: r.raw, softmax_scaled: r.scaled};
    }
    ready = true;
    redraw();
    return {
      controls: controls,
      drawn() {
        const b = readBars(ps.svg, drawn, ["softmax_raw", "softmax_scaled"]);
        return {raw_hist: JSON.parse(raw.dataset.v), scaled_hist: JSON.parse(scaled.dataset.v),
                softmax_raw: b.softmax_raw, softmax_scaled: b.softmax_scaled, computed: drawn};
      },
    };
  };

  explorers.mask = function (root, s) {
    const box = controlsBox(root);
    const n = s.tokens.length;
    let ready = false;
    const later = () => ready && redraw();
    const controls = {};
    const keys = document.createElement("div");
    keys.className = "av-control av-toggles";
    keys.setAttribute("role", "group");
    keys.setAttribute("aria-label", "keys that may be attended to");
    const name = document.createElement("span");
    name.textContent = "keys:";
    keys.appendChild(name);
    s.tokens.forEach((t, i) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = t;
      b.title = `may attend to '${t}'`;
      let on = s.on[i];
      const show = () => b.setAttribute("aria-pressed", String(on));
      show();
      b.addEventListener("click", () => { on = !on; show(); later(); });
      keys.appendChild(b);
      controls[`key ${i}`] = {get: () => on, set(v) { on = v; show(); later(); }, input: b};
    });
    box.appendChild(keys);
    const causalRow = document.createElement("label");
    causalRow.className = "av-control";
    const check = document.createElement("input");
    check.type = "checkbox";
    check.checked = s.causal;
    check.addEventListener("change", later);
    causalRow.append(check, " causal");
    box.appendChild(causalRow);
    controls.causal = {get: () => check.checked, set(v) { check.checked = v; later(); }, input: check};
    const size = 60 + 34 * n;
    const p = panel(root, size + 40, size + 20, "", {top: 8, left: 50, bottom: 40, right: 10});
    axisLabel(p, "key");
    axisLabel(p, "query", true);
    const update = heatmap(p, n, n, s.cmap, {annotate: s.annotate, xLabels: s.tokens, yLabels: s.tokens});
    let drawn = null;
    function redraw() {
      const on = s.tokens.map((_, i) => controls[`key ${i}`].get());
      drawn = math.mask(s.x, on, controls.causal.get());
      update(drawn);
    }
    ready = true;
    redraw();
    return {controls: controls, drawn: () => ({weights: update.cells, colours: update.colours(), computed: {weights: drawn}})};
  };

  explorers.kernel_regression = function (root, s) {
    const box = controlsBox(root);
    let ready = false;
    const controls = {h: slider(box, s.h, f2, () => ready && redraw())};
    const figure = document.createElement("div");
    figure.className = "av-figure";
    root.appendChild(figure);
    const pf = panel(figure, 320, 230, "");
    const title = el("text", {x: pf.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, pf.svg, "");
    const y = s.x_train.map((xi, i) => math.truth(xi) + s.noise[i]);
    const lo = Math.min(...y) - 0.5, hi = Math.max(...y) + 0.5;
    const xs = s.x_test, xmin = Math.min(xs[0], s.x_train[0]), xmax = Math.max(xs[xs.length - 1], s.x_train[s.x_train.length - 1]);
    const x = linear(xmin - 0.25, xmax + 0.25, pf.x0, pf.x1), yy = linear(lo, hi, pf.y1, pf.y0);
    const ticks = [];
    for (let t = Math.ceil(lo); t <= hi; t++) ticks.push(t);
    yTicks(pf, yy, ticks);
    el("line", {x1: pf.x0, x2: pf.x1, y1: pf.y1, y2: pf.y1, class: "av-axis"}, pf.svg);
    for (let t = 0; t <= 5; t++) el("text", {x: x(t), y: pf.y1 + 12, "text-anchor": "middle", class: "av-tick"}, pf.svg, String(t));
    axisLabel(pf, "x");
    axisLabel(pf, "y", true);
    s.x_train.forEach((xi, i) => el("circle", {cx: x(xi), cy: yy(y[i]), r: 2.2, fill: s.input}, pf.svg));
    el("polyline", {points: xs.map((xi) => `${x(xi)},${yy(math.truth(xi))}`).join(" "), class: "av-truth", fill: "none"}, pf.svg);
    const fit = el("polyline", {fill: "none", stroke: s.accent, "stroke-width": 2, class: "av-fit"}, pf.svg);
    el("text", {x: pf.x0 + 4, y: pf.y1 - 6, class: "av-tick"}, pf.svg, "● data  -- truth");
    el("text", {x: pf.x0 + 4, y: pf.y1 - 18, class: "av-tick", fill: s.accent}, pf.svg, "— prediction");
    const pw = panel(figure, 260, 230, "attention weights", {left: 40, bottom: 34});
    axisLabel(pw, "training point i (key)");
    axisLabel(pw, "test point (query)", true);
    const update = heatmap(pw, xs.length, s.x_train.length, s.cmap, {});
    let drawn = null;
    function redraw() {
      const h = controls.h.get();
      const r = math.kernelRegression(s.x_train, s.noise, xs, h);
      fit.setAttribute("points", r.prediction.map((v, i) => `${x(xs[i])},${yy(v)}`).join(" "));
      fit.dataset.v = JSON.stringify(r.prediction);
      title.textContent = `h = ${f2(h)}`;
      update(r.weights);
      drawn = r;
    }
    ready = true;
    redraw();
    return {controls: controls,
            drawn: () => ({prediction: JSON.parse(fit.dataset.v), weights: update.cells, colours: update.colours(), computed: drawn})};
  };

  explorers.multi_head = function (root, s) {
    const box = controlsBox(root);
    let ready = false;
    const later = () => ready && redraw();
    const controls = {head: slider(box, s.head, int, later)};
    if (s.layer) controls.layer = slider(box, s.layer, int, later);
    const n = s.tokens.length;
    const figure = document.createElement("div");
    figure.className = "av-figure";
    root.appendChild(figure);
    const size = 70 + 16 * n;
    const ph = panel(figure, size + 40, size + 40, "", {top: 24, left: 60, bottom: 50, right: 6});
    const title = el("text", {x: ph.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, ph.svg, "");
    // viz.heatmap's colour scale, set by the first head and kept: [0, 1] for weights, else its range
    const first = s.weights[0][0].flat(), lo = Math.min(...first), hi = Math.max(...first);
    const scale = lo >= 0 && hi <= 1 ? [0, 1] : [lo, hi];
    const update = heatmap(ph, n, n, s.cmap, {xLabels: s.tokens, yLabels: s.tokens, scale: scale});
    ph.svg.querySelectorAll("text.av-tick").forEach((t, i) => {
      if (i < n && n > 8) { // rotated key labels, as viz.heatmap does past 8 keys
        const xx = t.getAttribute("x"), yy = Number(t.getAttribute("y")) - 8;
        t.setAttribute("y", yy);
        t.setAttribute("text-anchor", "end");
        t.setAttribute("transform", `rotate(-90 ${xx} ${yy})`);
      }
    });
    // bertviz's head view: a line from query token i (left) to key token j (right)
    const pl = panel(figure, 200, size + 40, "attends from → to", {top: 24, left: 60, right: 60, bottom: 50});
    const ly = (i) => pl.y0 + ((i + 0.5) * (pl.y1 - pl.y0)) / n;
    s.tokens.forEach((t, i) => {
      el("text", {x: pl.x0 - 4, y: ly(i) + 3, "text-anchor": "end", class: "av-tick"}, pl.svg, t);
      el("text", {x: pl.x1 + 4, y: ly(i) + 3, class: "av-tick"}, pl.svg, t);
    });
    // n * n lines are drawn on a canvas (at twice the panel's resolution): restyling as many SVG lines
    // per event would not fit in a frame for 20 tokens.
    const holder = el("foreignObject", {x: pl.x0, y: pl.y0, width: pl.x1 - pl.x0, height: pl.y1 - pl.y0}, pl.svg);
    const canvas = document.createElement("canvas");
    canvas.width = 2 * (pl.x1 - pl.x0);
    canvas.height = 2 * (pl.y1 - pl.y0);
    canvas.className = "av-links";
    holder.appendChild(canvas);
    const ctx = canvas.getContext("2d");
    let drawn = null;
    function redraw() {
      const layer = controls.layer ? controls.layer.get() : 0, head = controls.head.get();
      const w = s.weights[layer][head];
      update(w);
      const flatW = w.flat();
      const max = Math.max(...flatW), scale = max > 0 ? max : 1;
      const alpha = flatW.map((v) => v / scale); // viz.update_head_view: the strongest link is opaque
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      ctx.strokeStyle = s.bar;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          const a = alpha[i * n + j];
          if (a <= 0) continue;
          ctx.globalAlpha = a;
          ctx.lineWidth = 2 * (0.5 + 3 * a);
          ctx.beginPath();
          ctx.moveTo(0, 2 * (ly(i) - pl.y0));
          ctx.lineTo(canvas.width, 2 * (ly(j) - pl.y0));
          ctx.stroke();
        }
      }
      title.textContent = `layer ${layer}, head ${head}`;
      drawn = {weights: w, line_alpha: alpha};
    }
    ready = true;
    redraw();
    return {controls: controls,
            drawn: () => ({weights: update.cells, colours: update.colours(), line_alpha: drawn.line_alpha, computed: drawn})};
  };

  explorers.rotary = function (root, s) {
    const box = controlsBox(root);
    let ready = false;
    const later = () => ready && redraw();
    const controls = {m: slider(box, s.m, int, later), n: slider(box, s.n, int, later), pair: slider(box, s.pair, int, later)};
    const figure = document.createElement("div");
    figure.className = "av-figure";
    root.appendChild(figure);
    // left: one pair, as given (faint) and turned (solid), scaled so that the longer of q and k has length 1
    const pp = panel(figure, 220, 230, "", {left: 30, bottom: 34});
    const pairTitle = el("text", {x: pp.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, pp.svg, "");
    const lim = 1.15, side = Math.min(pp.x1 - pp.x0, pp.y1 - pp.y0);
    const px = linear(-lim, lim, pp.x0, pp.x0 + side), py = linear(-lim, lim, pp.y0 + side, pp.y0);
    el("line", {x1: px(-lim), x2: px(lim), y1: py(0), y2: py(0), class: "av-grid"}, pp.svg);
    el("line", {x1: px(0), x2: px(0), y1: py(-lim), y2: py(lim), class: "av-grid"}, pp.svg);
    axisLabel(pp, "coordinate 2i");
    axisLabel(pp, "coordinate 2i+1", true);
    const qBefore = arrow(pp.svg, s.accent, 2), kBefore = arrow(pp.svg, s.input, 2);
    pp.svg.querySelectorAll(".av-arrow").forEach((g) => g.setAttribute("opacity", "0.25"));
    const qArrow = arrow(pp.svg, s.accent, 3), kArrow = arrow(pp.svg, s.input, 3);
    // right: the score against the offset n - m (query at 0 or key at 0), and the sliders' dot
    const ps = panel(figure, 320, 230, "", {left: 44, bottom: 34});
    const title = el("text", {x: ps.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, ps.svg, "");
    axisLabel(ps, "offset n − m");
    axisLabel(ps, "score  R_m q · R_n k", true);
    const P = s.max_position, curve = [];
    for (let delta = -P; delta <= P; delta++) {
      curve.push([delta, delta >= 0 ? math.rotaryScore(s.q, s.k, 0, delta, s.base) : math.rotaryScore(s.q, s.k, -delta, 0, s.base)]);
    }
    let lo = Math.min(...curve.map((c) => c[1])), hi = Math.max(...curve.map((c) => c[1]));
    const pad = 0.08 * (hi - lo || 1);
    lo -= pad; hi += pad;
    const sx = linear(-P, P, ps.x0, ps.x1), sy = linear(lo, hi, ps.y1, ps.y0);
    el("line", {x1: ps.x0, x2: ps.x0, y1: ps.y0, y2: ps.y1, class: "av-axis"}, ps.svg);
    el("line", {x1: ps.x0, x2: ps.x1, y1: ps.y1, y2: ps.y1, class: "av-axis"}, ps.svg);
    if (lo < 0 && hi > 0) el("line", {x1: ps.x0, x2: ps.x1, y1: sy(0), y2: sy(0), class: "av-grid"}, ps.svg);
    for (const t of [-P, 0, P]) el("text", {x: sx(t), y: ps.y1 + 12, "text-anchor": "middle", class: "av-tick"}, ps.svg, String(t));
    el("polyline", {class: "av-curve", fill: "none", points: curve.map((c) => `${sx(c[0])},${sy(c[1])}`).join(" ")}, ps.svg);
    const dot = el("circle", {r: 5, fill: s.accent, class: "av-dot"}, ps.svg);
    let drawn = null;
    function redraw() {
      const m = controls.m.get(), n = controls.n.get(), i = controls.pair.get(), j = 2 * i;
      const q = [s.q[j], s.q[j + 1]], k = [s.k[j], s.k[j + 1]];
      const unit = Math.max(Math.hypot(q[0], q[1]), Math.hypot(k[0], k[1]), 1e-12);
      const qr = math.rotary(s.q, m, s.base), kr = math.rotary(s.k, n, s.base);
      const qTip = [qr[j] / unit, qr[j + 1] / unit], kTip = [kr[j] / unit, kr[j + 1] / unit];
      qBefore(px(0), py(0), px(q[0] / unit), py(q[1] / unit));
      kBefore(px(0), py(0), px(k[0] / unit), py(k[1] / unit));
      qArrow(px(0), py(0), px(qTip[0]), py(qTip[1]), qTip);
      kArrow(px(0), py(0), px(kTip[0]), py(kTip[1]), kTip);
      let score = 0;
      for (let t = 0; t < qr.length; t++) score += qr[t] * kr[t];
      dot.setAttribute("cx", sx(n - m));
      dot.setAttribute("cy", sy(score));
      dot.dataset.v = JSON.stringify([n - m, score]);
      pairTitle.textContent = `pair i = ${i}, θ_i = ${fixed(Math.pow(s.base, -2 * i / s.q.length), 3)} (scaled)`;
      const offset = n - m;
      title.textContent = `m = ${m}, n = ${n}: offset ${offset < 0 ? "-" : "+"}${Math.abs(offset)}, score ${score < 0 ? "" : "+"}${f2(score)}`;
      drawn = {q: qTip, k: kTip, offset: offset, score: score};
    }
    ready = true;
    redraw();
    return {
      controls: controls,
      drawn() {
        const tips = Array.from(pp.svg.querySelectorAll(".av-arrow")).filter((g) => g.dataset.tip).map((g) => JSON.parse(g.dataset.tip));
        const [offset, score] = JSON.parse(dot.dataset.v);
        return {q: tips[0], k: tips[1], offset: offset, score: score, computed: drawn};
      },
    };
  };

  // ----------------------------------------------------------------------------------------------
  // Chapter 6: one held-out example of a trained model (viz.draw_example), from the spec's precomputed
  // examples. The spec holds every example the slider can pick, as base64 bytes (attn_course/web.py):
  // ids, truth and predictions exactly, attention maps as levels k, drawn as lo + k (hi - lo) / steps.

  function decodeBytes(b64) {
    const text = atob(b64), out = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
    return out;
  }
  const bit = (bytes, i) => (bytes[i >> 3] >> (7 - (i & 7))) & 1; // np.packbits: first in the high bit
  const nibble = (bytes, i) => (i & 1 ? bytes[i >> 1] & 15 : bytes[i >> 1] >> 4);
  /** web.dequantised: the value level k stands for. */
  const dequantised = (k, lo, hi, steps) => lo + k * ((hi - lo) / steps);

  /** rows x cols values of `get(r, c)`, as nested arrays. */
  function grid(rows, cols, get) {
    return Array.from({length: rows}, (_, r) => Array.from({length: cols}, (_, c) => get(r, c)));
  }

  /** A vertical colour bar right of the plot area, lo at the bottom, labelled at both ends (and the middle). */
  function colourBar(p, cmap, lo, hi, label, opacity) {
    const x = p.x1 + 8, w = 8;
    const holder = el("foreignObject", {x: x, y: p.y0, width: w, height: p.y1 - p.y0}, p.svg);
    const canvas = document.createElement("canvas");
    canvas.width = 1;
    canvas.height = 256;
    canvas.className = "av-cells";
    if (opacity) canvas.style.opacity = String(opacity); // as the colours it labels are painted
    holder.appendChild(canvas);
    const ctx = canvas.getContext("2d"), image = ctx.createImageData(1, 256), colours = rgb(cmap);
    for (let k = 0; k < 256; k++) image.data.set([...colours[255 - k], 255], 4 * k);
    ctx.putImageData(image, 0, 0);
    const y = linear(lo, hi, p.y1, p.y0);
    for (const t of [lo, (lo + hi) / 2, hi]) {
      el("text", {x: x + w + 3, y: y(t) + 3, class: "av-tick av-cbar"}, p.svg, fixed(t, 2));
    }
    const lx = x + w + 34, ly = (p.y0 + p.y1) / 2;
    el("text", {x: lx, y: ly, transform: `rotate(-90 ${lx} ${ly})`, "text-anchor": "middle", class: "av-axis-label"}, p.svg, label);
  }

  /** Tick labels along the bottom (or top) of the plot area at the cells' centres; class names them for drawn(). */
  function cellLabels(p, labels, axis, options) {
    const o = options || {};
    const n = labels.length;
    return labels.map((t, k) => {
      if (axis === "y") {
        return el("text", {x: p.x0 - 4, y: p.y0 + ((k + 0.5) * (p.y1 - p.y0)) / n + 3, "text-anchor": "end", class: "av-tick av-ylabel"}, p.svg, t);
      }
      const x = p.x0 + ((k + 0.5) * (p.x1 - p.x0)) / n, y = o.top ? p.y0 - 4 : p.y1 + 11;
      const attrs = {x: x, y: y, "text-anchor": "middle", class: "av-tick av-xlabel"};
      if (o.rotate) Object.assign(attrs, {"text-anchor": "end", y: y - 3, transform: `rotate(-${o.rotate} ${x} ${y - 3})`});
      return el("text", attrs, p.svg, t);
    });
  }

  function title(p, text) {
    return el("text", {x: p.width / 2, y: 14, "text-anchor": "middle", class: "av-title"}, p.svg, text);
  }

  const texts = (svg, cls) => Array.from(svg.querySelectorAll(`text.${cls}`), (t) => t.textContent);

  /** Tick marks and labels at data positions `ticks` of a linear axis (x along the bottom, or y). */
  function axisTicks(p, scale, ticks, axis) {
    for (const t of ticks) {
      if (axis === "x") el("text", {x: scale(t), y: p.y1 + 11, "text-anchor": "middle", class: "av-tick"}, p.svg, String(t));
      else el("text", {x: p.x0 - 4, y: scale(t) + 3, "text-anchor": "end", class: "av-tick"}, p.svg, String(t));
    }
  }

  /** Per application: build(spec) -> draw(figure, i), which draws example i and returns drawn() (read back). */
  const examples = {};

  examples.translation = function (s) {
    const [T, S] = s.shape;
    const source = decodeBytes(s.source), predicted = decodeBytes(s.predicted), right = decodeBytes(s.right);
    const weights = decodeBytes(s.weights), alignment = decodeBytes(s.alignment);
    return function draw(figure, i) {
      const src = Array.from(source.subarray(i * S, (i + 1) * S), (id) => s.source_vocab[id]);
      const tgt = Array.from(predicted.subarray(i * T, (i + 1) * T), (id) => s.target_vocab[id]);
      const w = grid(T, S, (r, c) => dequantised(weights[(i * T + r) * S + c], 0, 1, s.steps));
      const p = panel(figure, 330, 330, "", {top: 58, left: 46, right: 62, bottom: 36});
      const heading = title(p, `${src.join("")} → ${tgt.join(" ")}  (${right[i] ? "right" : "wrong"})`);
      el("text", {x: (p.x0 + p.x1) / 2, y: 30, "text-anchor": "middle", class: "av-axis-label"}, p.svg, "source (keys)");
      axisLabel(p, "target (queries)", true);
      const update = heatmap(p, T, S, s.cmap, {});
      update(w);
      cellLabels(p, src, "x", {top: true});
      cellLabels(p, tgt, "y");
      const cw = (p.x1 - p.x0) / S, ch = (p.y1 - p.y0) / T, side = 0.8 * Math.min(cw, ch);
      const outlined = grid(T, S, () => 0);
      for (let r = 0; r < T; r++) {
        for (let c = 0; c < S; c++) {
          if (!bit(alignment, (i * T + r) * S + c)) continue;
          el("rect", {x: p.x0 + (c + 0.5) * cw - side / 2, y: p.y0 + (r + 0.5) * ch - side / 2, width: side, height: side,
                      fill: "none", stroke: s.accent, "stroke-width": 1.5, class: "av-marker", "data-r": r, "data-c": c}, p.svg);
        }
      }
      el("rect", {x: p.x0, y: p.y1 + 18, width: 9, height: 9, fill: "none", stroke: s.accent, "stroke-width": 1.5}, p.svg);
      el("text", {x: p.x0 + 14, y: p.y1 + 26, class: "av-tick"}, p.svg, "true alignment");
      colourBar(p, s.cmap, 0, 1, "weight");
      return () => {
        p.svg.querySelectorAll("rect.av-marker").forEach((m) => { outlined[m.dataset.r][m.dataset.c] = 1; });
        return {weights: update.cells, colours: update.colours(), alignment: outlined, x_labels: texts(p.svg, "av-xlabel"),
                y_labels: texts(p.svg, "av-ylabel"), title: heading.textContent};
      };
    };
  };

  examples.sentiment = function (s) {
    const L = s.length;
    const words = decodeBytes(s.words), truth = decodeBytes(s.truth), predicted = decodeBytes(s.predicted);
    const weights = decodeBytes(s.weights), carriers = decodeBytes(s.carriers);
    return function draw(figure, i) {
      const kept = [];
      for (let k = 0; k < L; k++) if (words[i * L + k] !== 0) kept.push(k); // the padding (id 0) is left out
      const n = kept.length;
      const p = panel(figure, 80 + 44 * n, 250, "", {left: 44, bottom: 78});
      const heading = title(p, `true: ${s.labels[truth[i]]}, predicted: ${s.labels[predicted[i]]}`);
      axisLabel(p, "attention weight", true);
      axisLabel(p, "word (red: carries the sentiment)");
      const y = linear(0, 1.1, p.y1, p.y0);
      yTicks(p, y, [0, 0.5, 1]);
      el("line", {x1: p.x0, x2: p.x1, y1: p.y1, y2: p.y1, class: "av-axis"}, p.svg);
      const band = (p.x1 - p.x0) / n;
      kept.forEach((k, b) => {
        const h = dequantised(weights[i * L + k], 0, 1, s.steps), x = p.x0 + band * (b + 0.5), carrier = bit(carriers, i * L + k);
        el("rect", {x: x - 0.35 * band, y: y(h), width: 0.7 * band, height: p.y1 - y(h), fill: carrier ? s.accent : s.input,
                    class: "av-bar", "data-v": h, "data-carrier": carrier}, p.svg);
        el("text", {x: x, y: y(h + 0.02) - 2, "text-anchor": "middle", class: "av-value"}, p.svg, fixed(h, 2));
      });
      cellLabels(p, kept.map((k) => s.vocab[words[i * L + k]]), "x", {rotate: 45});
      return () => {
        const bars = Array.from(p.svg.querySelectorAll("rect.av-bar"));
        return {heights: bars.map((b) => Number(b.dataset.v)), values: texts(p.svg, "av-value"),
                carriers: bars.map((b) => b.dataset.carrier === "1"), x_labels: texts(p.svg, "av-xlabel"),
                title: heading.textContent};
      };
    };
  };

  examples.vit = function (s) {
    const side = s.side, g = s.grid;
    const truth = decodeBytes(s.truth), predicted = decodeBytes(s.predicted);
    const image = decodeBytes(s.image), maps = decodeBytes(s.maps);
    const greysReversed = s.greys.slice().reverse(); // Greys_r
    const ticks = [];
    for (let t = 0; t <= side; t += side / g) ticks.push(t);
    return function draw(figure, i) {
      const pixels = grid(side, side, (r, c) => dequantised(image[(i * side + r) * side + c], 0, 1, s.image_steps));
      const flat = pixels.flat(), lo = Math.min(...flat), hi = Math.max(...flat); // imshow's own colour scale
      function frame(p) {
        const x = linear(0, side, p.x0, p.x1), y = linear(0, side, p.y0, p.y1);
        axisTicks(p, x, ticks, "x");
        axisTicks(p, y, ticks, "y");
        axisLabel(p, "x (pixels)");
        axisLabel(p, "y (pixels)", true);
        return {x: x, y: y};
      }
      const pi = panel(figure, 210, 210, "", {left: 40, right: 10, bottom: 34});
      const heading = title(pi, `digit ${truth[i]}, predicted ${predicted[i]}`);
      const updateImage = heatmap(pi, side, side, s.greys, {scale: [lo, hi]});
      updateImage(pixels);
      frame(pi);
      const drawn = {image: updateImage};
      ["raw", "rollout"].forEach((name, m) => {
        const p = panel(figure, 250, 210, "", {left: 40, right: 50, bottom: 34});
        title(p, m === 0 ? "raw attention, last layer" : "attention rollout");
        heatmap(p, side, side, greysReversed, {scale: [lo, hi]})(pixels);
        const k = 2 * i + m, a = s.lo[k], b = s.hi[k];
        const update = heatmap(p, g, g, s.cmap, {scale: [a, b]});
        update(grid(g, g, (r, c) => dequantised(maps[(k * g + r) * g + c], a, b, s.steps)));
        p.svg.lastElementChild.querySelector("canvas").style.opacity = "0.55";
        const {x, y} = frame(p);
        for (const t of ticks) {
          el("line", {x1: x(t), x2: x(t), y1: p.y0, y2: p.y1, class: "av-patch-grid"}, p.svg);
          el("line", {x1: p.x0, x2: p.x1, y1: y(t), y2: y(t), class: "av-patch-grid"}, p.svg);
        }
        colourBar(p, s.cmap, a, b, "attention", 0.55);
        drawn[name] = update;
      });
      return () => ({image: drawn.image.cells, raw: drawn.raw.cells, rollout: drawn.rollout.cells,
                     raw_colours: drawn.raw.colours(), rollout_colours: drawn.rollout.colours(), title: heading.textContent});
    };
  };

  examples.speech = function (s) {
    const [K, F] = s.shape, B = s.bins;
    const truth = decodeBytes(s.truth), predicted = decodeBytes(s.predicted), weights = decodeBytes(s.weights);
    const alignment = decodeBytes(s.alignment), spectrogram = decodeBytes(s.spectrogram);
    const margin = {left: 50, right: 62};
    return function draw(figure, i) {
      const keys = Array.from(predicted.subarray(i * K, (i + 1) * K), (k) => s.keys[k]);
      const pressed = Array.from(truth.subarray(i * K, (i + 1) * K), (k) => s.keys[k]);
      // top: the spectrogram, lowest frequency at the bottom (origin="lower"), in its own grey scale
      const ps = panel(figure, 440, 190, "", Object.assign({top: 24, bottom: 10}, margin));
      ps.svg.classList.add("av-wide");
      const heading = title(ps, `keys pressed: ${pressed.join(" ")},  decoded: ${keys.join(" ")}`);
      const spectrum = grid(B, F, (b, f) => dequantised(nibble(spectrogram, (i * B + b) * F + f), 0, 1, s.spectrogram_steps));
      const updateSpectrum = heatmap(ps, B, F, s.greys, {});
      updateSpectrum(spectrum.slice().reverse());
      const hz = linear(s.hz[0], s.hz[1], ps.y1, ps.y0);
      const hzTicks = [];
      for (let t = Math.ceil(s.hz[0] / 200) * 200; t <= s.hz[1]; t += 200) hzTicks.push(t);
      axisTicks(ps, hz, hzTicks, "y");
      axisLabel(ps, "frequency (Hz)", true);
      // bottom: each decoded key's weights over the frames, the frames where it truly sounds outlined
      const pa = panel(figure, 440, 150, "", Object.assign({top: 8, bottom: 34}, margin));
      pa.svg.classList.add("av-wide");
      const update = heatmap(pa, K, F, s.cmap, {});
      update(grid(K, F, (r, f) => dequantised(weights[(i * K + r) * F + f], 0, 1, s.steps)));
      cellLabels(pa, keys, "y");
      const fx = linear(-0.5, F - 0.5, pa.x0, pa.x1), ch = (pa.y1 - pa.y0) / K;
      const frameTicks = [];
      for (let t = 0; t < F; t += 5) frameTicks.push(t);
      axisTicks(pa, fx, frameTicks, "x");
      axisLabel(pa, s.xlabel);
      axisLabel(pa, "decoded key (query)", true);
      for (let r = 0; r < K; r++) {
        let first = -1, count = 0; // draw_example: from the first frame on, as many frames as are on
        for (let f = 0; f < F; f++) {
          if (bit(alignment, (i * K + r) * F + f)) { if (first < 0) first = f; count++; }
        }
        el("rect", {x: fx(first - 0.5), y: pa.y0 + r * ch, width: fx(first - 0.5 + count) - fx(first - 0.5), height: ch,
                    fill: "none", stroke: s.accent, "stroke-width": 1.5, class: "av-marker", "data-box": JSON.stringify([first, count])}, pa.svg);
      }
      colourBar(pa, s.cmap, 0, 1, "weight");
      return () => ({spectrogram: updateSpectrum.cells.slice().reverse(), weights: update.cells, colours: update.colours(),
                     boxes: Array.from(pa.svg.querySelectorAll("rect.av-marker"), (m) => JSON.parse(m.dataset.box)),
                     y_labels: texts(pa.svg, "av-ylabel"), title: heading.textContent});
    };
  };

  explorers.example = function (root, s) {
    const box = controlsBox(root);
    let ready = false;
    const controls = {example: slider(box, s.example, int, () => ready && redraw())};
    const figure = document.createElement("div");
    figure.className = "av-figure av-example";
    figure.dataset.name = s.name;
    root.appendChild(figure);
    const draw = examples[s.name](s);
    let read = null;
    function redraw() {
      figure.replaceChildren(); // a new example has new tokens, ticks and markers: draw it all, as draw_example does
      read = draw(figure, controls.example.get());
    }
    ready = true;
    redraw();
    return {controls: controls, drawn: () => read()};
  };

  // ----------------------------------------------------------------------------------------------

  function start(root) {
    if (root.dataset.live) return;
    const spec = JSON.parse(root.querySelector("script.av-spec").textContent);
    const build = explorers[spec.kind];
    if (!build) return; // an explorer this script does not know keeps its snapshot
    const live = document.createElement("div");
    live.className = "av-live";
    root.appendChild(live);
    root.av = build(live, spec);
    root.dataset.live = "true";
    root.classList.add("av-is-live");
  }

  window.avExplorers = {math: math, fixed: fixed, start: start};
  function startAll() {
    document.querySelectorAll("div.av-explorer").forEach(start);
    window.avExplorers.ready = true;
    window.avExplorers.readyAt = performance.now(); // ms since navigation: when the page's explorers went live
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
  else startAll();
})();
