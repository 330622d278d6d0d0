/* actwidgets FilterExplorer page (after draw.js and controls.js): a conv layer's filters, one
   filter's kernels and the magnitude of its 2-D frequency response (freqz2). The state is the
   widget's traits (layer, filter, input_channel, cmap); `_meta` describes the network, its conv
   layers and the sizes to draw with, `_layer` + `_data` hold the shown layer (sent once per
   layer change: the filter tiles' RGB before enlargement, then the float32 weights and bias),
   `_message` the message to show. Filter, input channel and colormap changes are drawn here at
   once, as actwidgets.widgets._filterviews.filter_pictures draws them in Python. */
const FILTER_STATE = ["layer", "filter", "input_channel", "cmap"];
const FILTER_TEMPLATE = `
<p class="aw-banner" hidden></p>
<p class="aw-caption"></p>
<div class="aw-row"><label>conv layer <select class="aw-group" title="A block of the network, or all conv layers"></select></label>
  <select class="aw-layer" aria-label="conv layer" title="The conv layer whose filters are shown"></select></div>
<canvas class="aw-filter-tiles aw-picture" tabindex="0" role="img" title="Click a filter to select it"></canvas>
<div class="aw-row"><label>filter <input class="aw-channel" type="range" min="0" max="0" step="1" value="0"></label>
  <output class="aw-channel-out">0</output>
  <label class="aw-field" title="Frequency response of every input channel, or of one">input channel <select class="aw-input"></select></label>
  <label class="aw-field">colormap (|H|) <select class="aw-cmap"></select></label></div>
<div class="aw-pictures aw-filter-maps">
  <figure><figcaption class="aw-cap-weights"></figcaption><canvas class="aw-filter-weights" role="img"></canvas></figure>
  <figure><figcaption class="aw-cap-frequency"></figcaption><canvas class="aw-filter-frequency" role="img"></canvas></figure></div>
<p class="aw-stats" aria-live="polite"></p>
<p class="aw-error" role="alert" hidden></p>
<p class="aw-help">Click a filter to select it; ← → move the filter, ↑ ↓ a row of the tiles, Home and End the first and last.</p>`;

function pyG(x, p) {  // Python's format(x, f".{p}g")
  if (x === 0) return "0";
  const [m, e] = x.toExponential(p - 1).split("e"), exp = +e, strip = (s) => (s.indexOf(".") < 0 ? s : s.replace(/0+$/, "").replace(/\.$/, ""));
  if (exp < -4 || exp >= p) return strip(m) + "e" + (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");
  return strip(x.toFixed(Math.max(0, p - 1 - exp)));
}

function gridOf(n, oneRow) {  // actwidgets.pixels.tile_grid(n), or one row
  if (oneRow) return [1, n];
  let cols = Math.floor(Math.sqrt(n));
  while (cols * cols > n) cols--;
  if (cols * cols < n) cols++;
  return [Math.ceil(n / cols), cols];
}

/* actwidgets.pixels.imtile of n (h, w) tiles, each enlarged k times, `pad` px of `padWord`
   between them: word(t, y, x) is tile t's packed RGBA at (y, x). A canvas. */
function montage(n, h, w, k, grid, pad, padWord, word) {
  const [rows, cols] = grid, H = rows * (h * k + pad) + pad, W = cols * (w * k + pad) + pad;
  const im = new ImageData(W, H), out = new Uint32Array(im.data.buffer);
  out.fill(padWord);
  for (let t = 0; t < n; t++) {
    const x0 = pad + (t % cols) * (w * k + pad), y0 = pad + Math.floor(t / cols) * (h * k + pad);
    for (let y = 0; y < h * k; y++) for (let x = 0; x < w * k; x++) out[(y0 + y) * W + x0 + x] = word(t, Math.floor(y / k), Math.floor(x / k));
  }
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  canvas.getContext("2d").putImageData(im, 0, 0);
  return canvas;
}

function enlargeSide(grid, h, w, side, pad) {  // _filterviews._tile_enlarged's factor
  const [rows, cols] = grid;
  return Math.max(1, Math.min(Math.floor((side - pad * (cols + 1)) / (cols * w)), Math.floor((side - pad * (rows + 1)) / (rows * h))));
}

const trigCache = new Map();
function freqz2(w, off, kh, kw, n, out, at) {  // |fft2(kernel, (n, n))|, fftshifted, into out[at...]
  if (!trigCache.has(n)) {
    const c = new Float64Array(n), s = new Float64Array(n);
    for (let j = 0; j < n; j++) { c[j] = Math.cos((2 * Math.PI * j) / n); s[j] = Math.sin((2 * Math.PI * j) / n); }
    trigCache.set(n, [c, s]);
  }
  const [cs, sn] = trigCache.get(n), half = n >> 1;
  for (let iy = 0; iy < n; iy++) {
    const u = (iy - half + n) % n;
    for (let ix = 0; ix < n; ix++) {
      const v = (ix - half + n) % n;
      let re = 0, im = 0;
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          const a = (u * y + v * x) % n, kv = w[off + y * kw + x];
          re += kv * cs[a];
          im -= kv * sn[a];
        }
      }
      out[at + iy * n + ix] = Math.hypot(re, im);
    }
  }
}

function filterUnpack(meta, view) {  // the tiles' RGB, the weights, the bias
  const [o, i, kh, kw] = meta.shape, [th, tw] = meta.tiles, base = view.byteOffset, buf = view.buffer;
  const nt = th * tw * 3, nw = o * i * kh * kw;
  return Object.assign({}, meta, {
    rgb: new Uint8Array(buf.slice(base, base + nt)),
    w: new Float32Array(buf.slice(base + nt, base + nt + 4 * nw)),
    b: meta.bias ? new Float32Array(buf.slice(base + nt + 4 * nw, base + nt + 4 * nw + 4 * o)) : null,
  });
}

/* The three pictures of filter f and the captions' numbers. */
function filterPictures(d, f, input, meta, cmap) {
  const [o, i, kh, kw] = d.shape, [th, tw, k] = d.tiles, sz = meta, off = f * i * kh * kw, n = i * kh * kw;
  const outline = "rgb(" + meta.outline.join(",") + ")";
  // Every filter, f outlined.
  const tiles = montage(1, th, tw, k, [1, 1], 0, 0, (t, y, x) => rgba32(d.rgb[3 * (y * tw + x)], d.rgb[3 * (y * tw + x) + 1], d.rgb[3 * (y * tw + x) + 2]));
  const [, cols] = gridOf(o), tx0 = 1 + (f % cols) * (kw + 1), ty0 = 1 + Math.floor(f / cols) * (kh + 1);
  const ctx = tiles.getContext("2d"), width = Math.min(2, k);
  ctx.fillStyle = outline;
  ring(ctx, [tx0 * k, ty0 * k, (tx0 + kw) * k, (ty0 + kh) * k], tiles.width, tiles.height, width, width);
  // Its kernels, one diverging scale.
  let peak = 0, lo = Infinity, hi = -Infinity, norm = 0;
  for (let j = 0; j < n; j++) {
    const v = d.w[off + j];
    peak = Math.max(peak, Math.abs(v)); lo = Math.min(lo, v); hi = Math.max(hi, v); norm += v * v;
  }
  const div = wordTable(meta.cmaps, meta.weights, "lut"), grid = gridOf(i, i <= 4);
  const kx = enlargeSide(grid, kh, kw, sz.weightsSide, sz.gap), gp = sz.weightsPad;
  const weights = montage(i, kh, kw, kx, grid, sz.gap, rgba32(gp, gp, gp), (t, y, x) =>
    div[toLevel(peak > 0 ? d.w[off + t * kh * kw + y * kw + x] * (0.5 / peak) + 0.5 : 0.5)]);
  if (input >= 0) {
    const c = weights.getContext("2d"), x0 = sz.gap + (input % grid[1]) * (kw * kx + sz.gap), y0 = sz.gap + Math.floor(input / grid[1]) * (kh * kx + sz.gap);
    c.fillStyle = outline;
    ring(c, [x0, y0, x0 + kw * kx, y0 + kh * kx], weights.width, weights.height, sz.gap, sz.gap);
  }
  // |H| of every input channel (or the chosen one), one scale.
  const m = input >= 0 ? 1 : i, kmax = Math.max(kh, kw), fn = Math.max(m <= 4 ? 64 : m <= 64 ? 32 : 16, kmax);
  const mag = new Float64Array(m * fn * fn);
  for (let t = 0; t < m; t++) freqz2(d.w, off + (input >= 0 ? input : t) * kh * kw, kh, kw, fn, mag, t * fn * fn);
  let mlo = Infinity, mhi = -Infinity;
  for (const v of mag) { if (v < mlo) mlo = v; if (v > mhi) mhi = v; }
  const lut = wordTable(meta.cmaps, cmap, "lut"), span = mhi > mlo ? mhi - mlo : 1, fp = sz.freqPad;
  const word = (t, y, x) => lut[toLevel((mag[t * fn * fn + y * fn + x] - mlo) / span)];
  const freq = input >= 0 ? montage(1, fn, fn, Math.max(1, Math.floor(sz.freqOneSide / fn)), [1, 1], 0, 0, word)
    : montage(m, fn, fn, enlargeSide(gridOf(m, m <= 4), fn, fn, sz.freqSide, sz.gap), gridOf(m, m <= 4), sz.gap, rgba32(fp, fp, fp), word);
  return {tiles: tiles, weights: weights, freq: freq, peak: peak, lo: lo, hi: hi, norm: Math.sqrt(norm), hmax: mhi};
}

function render({model, el}) {
  const {root, ui} = mount(el, "aw-filter-view aw-page", FILTER_TEMPLATE,
    ["banner", "caption", "group", "layer", "filter-tiles", "channel", "channel-out", "input", "cmap",
     "filter-weights", "filter-frequency", "cap-weights", "cap-frequency", "stats", "error"]);
  let meta = null, data = null, version = 0, inputsShown = -1;
  const P = pageState(model, FILTER_STATE, "filter",
    {sync: syncControls, draw: draw, count: () => count(), slider: ui.channel, out: ui.channelOut});
  const S = P.S, set = (name, value) => P.set({[name]: value}), setFilter = P.move;
  const picker = layerPicker(ui.group, ui.layer, (name) => set("layer", name));
  const fresh = () => !!data && data.layer === S.layer;
  const count = () => (fresh() ? data.shape[0] : meta.layers.find((l) => l.name === S.layer).channels);

  function draw() {
    root.classList.toggle("aw-busy", !fresh());
    if (!fresh()) return;
    const [o, i, kh, kw] = data.shape, f = Math.min(S.filter, o - 1), input = S.input_channel < i ? S.input_channel : -1;
    const p = filterPictures(data, f, input, meta, S.cmap);
    [[ui.filterTiles, p.tiles], [ui.filterWeights, p.weights], [ui.filterFrequency, p.freq]].forEach(([canvas, pic]) => {
      fitCanvas(canvas, pic.width, pic.height, 0);
      canvas.getContext("2d").drawImage(pic, 0, 0);
    });
    const b = bold;
    const neg = document.createElement("span"), pos = document.createElement("span");
    neg.className = "aw-neg"; neg.textContent = "−";
    pos.className = "aw-pos"; pos.textContent = "+";
    ui.capWeights.replaceChildren(b("filter " + f), ": weights per input channel (", neg, " / ", pos, ", ±" + pyG(p.peak, 3) + ")");
    const which = input >= 0 ? "input " + (i === 3 ? "RGB"[input] : String(input)) : i === 3 ? "R, G, B inputs" : "all " + i + " inputs";
    ui.capFrequency.replaceChildren(b("|H|"), " (freqz2) of filter " + f + ", " + which + "; DC in the middle, edges ±Nyquist; max " + pyG(p.hmax, 3));
    ui.stats.replaceChildren(b(data.layer), " (" + data.conv + ") · " + o + " filters of " + i + "×" + kh + "×" + kw + " · filter " + f +
      ": min " + pyG(p.lo, 4) + ", max " + pyG(p.hi, 4) + ", ‖w‖ " + pyG(p.norm, 4) + (data.b ? " · bias " + pyG(data.b[f], 4) : ""));
    ui.filterTiles.setAttribute("aria-label", "the " + o + " filters of " + data.layer + ", filter " + f + " outlined");
    root.dataset.shown = [S.layer, f, input, S.cmap].join("|");
    root.dataset.version = String(++version);
  }

  function readMeta() {
    meta = model.get("_meta");
    picker.setMeta(meta);
    fillOptions(ui.cmap, Object.keys(meta.cmaps).filter((n) => meta.cmaps[n].offer || n === S.cmap).map((n) => [n, n]));
    showBanner(ui.banner, meta.net);
    ui.caption.textContent = meta.net.name + " · " + meta.net.weights + " · learned filters";
  }

  function readLayer() {
    const m = model.get("_layer"), view = model.get("_data");
    data = m && m.shape && view ? filterUnpack(m, view) : null;
  }

  function syncControls() {
    picker.show(S.layer);
    showSlider(ui.channel, ui.channelOut, S.filter, count());
    const i = fresh() ? data.shape[1] : 0;
    if (i !== inputsShown) {
      fillOptions(ui.input, [["all", -1], ...Array.from({length: i}, (_, k) => [i === 3 ? "RGB"[k] : String(k), k])]);
      inputsShown = i;
    }
    ui.input.value = String(S.input_channel);
    if (!meta.cmaps[S.cmap]) fillOptions(ui.cmap, [[S.cmap, S.cmap]]);
    ui.cmap.value = S.cmap;
  }

  function onTile(e) {  // a click on a filter's tile selects it
    if (!fresh()) return;
    const r = ui.filterTiles.getBoundingClientRect(), [o, , kh, kw] = data.shape, k = data.tiles[2], [rows, cols] = gridOf(o);
    const x = Math.floor((((e.clientX - r.left) * ui.filterTiles.width) / r.width) / k), y = Math.floor((((e.clientY - r.top) * ui.filterTiles.height) / r.height) / k);
    const col = Math.floor((x - 1) / (kw + 1)), row = Math.floor((y - 1) / (kh + 1)), f = row * cols + col;
    if (col >= 0 && row >= 0 && col < cols && row < rows && f < o) setFilter(f);
  }

  ui.channel.addEventListener("input", () => setFilter(+ui.channel.value));
  ui.input.addEventListener("change", () => set("input_channel", +ui.input.value));
  ui.cmap.addEventListener("change", () => set("cmap", ui.cmap.value));
  ui.filterTiles.addEventListener("click", onTile);
  const stopKeys = listenKeys(root, (e, target) => {
    const to = keyTarget(e, target, ui.channel, S.filter, count(), gridOf(count())[1]);
    if (to !== null) setFilter(to);
  });

  const stop = runPage(model, {error: ui.error, keys: FILTER_STATE, pull: P.pull, sync: syncControls, draw: draw,
    read: {_meta: readMeta, _layer: readLayer, _data: readLayer}, first: [readMeta, readLayer], stops: [stopKeys, P.cancel]});
  root.awFilters = {flips: P.flips, state: () => Object.assign({}, S)};
  return stop;
}

const filters = {render};
export default filters;
