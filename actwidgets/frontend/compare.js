/* actwidgets CompareExplorer page (after draw.js and controls.js): one layer, stage and channel
   for two images, on one scale, and B − A. The state is the widget's traits (layer, stage,
   channel, cmap, contrast); `_meta` describes the network and names the two images, `_layer` +
   `_levels` hold the shown layer for both images (sent once per layer/stage change: 16-bit
   levels of each channel's shared [min, max], then per channel min, max, the 1 % and 99 %
   quantiles over both, and max |B − A|), `_pictures` both images' RGB pixels, `_message` the
   message to show. Channel, colormap and contrast changes are drawn here at once, as
   CompareExplorer._maps draws them in Python. */
const COMPARE_STATE = ["layer", "stage", "channel", "cmap", "contrast"];
const COMPARE_DIFF = "RdBu_r";
const COMPARE_TEMPLATE = `
<p class="aw-banner" hidden></p>
<p class="aw-caption"></p>
<div class="aw-row aw-thumbs"><figure class="aw-thumb"><figcaption class="aw-label-a"></figcaption><canvas class="aw-thumb-a"></canvas></figure>
  <figure class="aw-thumb"><figcaption class="aw-label-b"></figcaption><canvas class="aw-thumb-b"></canvas></figure></div>
<div class="aw-row"><label>layer <select class="aw-group" title="A block of the network, every layer of one kind, or all layers"></select></label>
  <select class="aw-layer" aria-label="layer" title="The layer shown: name · channels · height×width"></select>
  <span class="aw-stage aw-toggle" role="group" aria-label="stage"><button type="button" data-value="pre">pre-ReLU</button><button type="button" data-value="post">post-ReLU</button></span></div>
<div class="aw-row"><label>channel <input class="aw-channel" type="range" min="0" max="0" step="1" value="0"></label>
  <output class="aw-channel-out">0</output>
  <button class="aw-largest" type="button" title="Select the channel whose two maps differ most (largest max |B − A|)">🔍 largest difference</button></div>
<div class="aw-row"><label class="aw-field">colormap <select class="aw-cmap"></select></label>
  <span class="aw-field">contrast <span class="aw-contrast aw-toggle" role="group" aria-label="contrast">
  <button type="button" data-value="minmax" title="Both maps from the lowest to the highest value of the two">min-max</button><button type="button" data-value="stretch" title="Clip the lowest and highest 1% of both maps first, then scale">percentile</button></span></span></div>
<div class="aw-pictures aw-compare-maps">
  <figure><figcaption class="aw-cap-a"></figcaption><canvas class="aw-picture aw-picture-a" tabindex="0" role="img"></canvas></figure>
  <figure><figcaption class="aw-cap-b"></figcaption><canvas class="aw-picture-b" role="img"></canvas></figure>
  <figure><figcaption class="aw-cap-diff"></figcaption><canvas class="aw-picture-diff" role="img"></canvas></figure></div>
<p class="aw-stats" aria-live="polite"></p>
<p class="aw-error" role="alert" hidden></p>
<p class="aw-help">← → move the channel, Home and End the first and last. Both maps share one scale; the difference is blue where B is lower, red where it is higher.</p>`;

function compareUnpack(meta, view) {  // A's and B's levels, then 5 float32 per channel
  const [C, h, w] = meta.shape, n = C * h * w, base = view.byteOffset, buf = view.buffer;
  const text = {};
  Object.keys(meta.stats).forEach((k) => { text[k] = meta.stats[k].split(" "); });
  return Object.assign({}, meta, {
    a: new Uint16Array(buf.slice(base, base + 2 * n)), b: new Uint16Array(buf.slice(base + 2 * n, base + 4 * n)),
    table: new Float32Array(buf.slice(base + 4 * n, base + 4 * n + 20 * C)), text: text,
  });
}

/* Channel c of both images and their difference at the input size: three arrays of 8-bit
   levels (A and B on the shared scale of `contrast`, B − A centred on 0 at 128). */
function compareLevels(d, c, size, contrast) {
  const [, h, w] = d.shape, [H, W] = size, n = h * w, top = d.levels;
  const [lo, hi, slo, shi, peak] = d.table.subarray(5 * c, 5 * c + 5), unit = (hi - lo) / top;
  const small = scratch("cmpSmall", n, Float64Array), out = [];
  const scaled = contrast === "stretch" ? (x) => (lo + x * unit - slo) / (shi - slo) : (x) => x / top;
  for (const src of [d.a, d.b]) {
    for (let i = 0; i < n; i++) small[i] = src[c * n + i];
    const big = resized(small, h, w, H, W), lev = new Uint8Array(H * W);
    for (let i = 0; i < lev.length; i++) lev[i] = toLevel(scaled(big[i]));
    out.push(lev);
  }
  for (let i = 0; i < n; i++) small[i] = d.b[c * n + i] - d.a[c * n + i];
  const big = resized(small, h, w, H, W), lev = new Uint8Array(H * W), k = peak > 0 ? (unit * 0.5) / peak : 0;
  for (let i = 0; i < lev.length; i++) lev[i] = toLevel(big[i] * k + 0.5);
  out.push(lev);
  return out;
}

function render({model, el}) {
  const {root, ui} = mount(el, "aw-compare-view aw-page", COMPARE_TEMPLATE,
    ["banner", "caption", "label-a", "label-b", "thumb-a", "thumb-b", "group", "layer", "stage", "channel", "channel-out",
     "largest", "cmap", "contrast", "picture-a", "picture-b", "picture-diff", "cap-a", "cap-b", "cap-diff", "stats", "error"]);
  let meta = null, data = null, version = 0;
  const P = pageState(model, COMPARE_STATE, "channel",
    {sync: syncControls, draw: draw, count: () => info().channels, slider: ui.channel, out: ui.channelOut});
  const S = P.S, set = (name, value) => P.set({[name]: value}), setChannel = P.move;
  const picker = layerPicker(ui.group, ui.layer, (name) => setLayer(name));
  const info = () => meta.layers.find((l) => l.name === S.layer);
  const fresh = () => !!data && data.layer === S.layer && data.stage === S.stage;

  // ------------------------------------------------------------------ drawing
  function draw() {  // synchronous: both images' levels are here
    root.classList.toggle("aw-busy", !fresh());
    if (!fresh()) return;
    const c = Math.min(S.channel, data.shape[0] - 1), [H, W] = meta.net.input;
    const maps = compareLevels(data, c, [H, W], S.contrast);
    const tables = [wordTable(meta.cmaps, S.cmap, "lut"), wordTable(meta.cmaps, S.cmap, "lut"), wordTable(meta.cmaps, COMPARE_DIFF, "lut")];
    [ui.pictureA, ui.pictureB, ui.pictureDiff].forEach((canvas, i) => {
      fitCanvas(canvas, W, H, meta.display / 2);
      const im = new ImageData(W, H);
      paintChannel(im, maps[i], tables[i]);
      canvas.getContext("2d").putImageData(im, 0, 0);
    });
    describe(c);
    root.dataset.shown = COMPARE_STATE.map((k) => (k === "channel" ? c : S[k])).join("|");
    root.dataset.version = String(++version);
  }

  function describe(c) {
    const L = info(), t = data.text, [la, lb] = meta.images, stage = L.stages ? " (" + S.stage + "-ReLU)" : "";
    const b = bold;
    const [lo, hi] = S.contrast === "stretch" ? [t.slo[c], t.shi[c]] : [t.lo[c], t.hi[c]];
    ui.stats.replaceChildren(b(L.name), stage + " · channel " + c + " · one scale for both: [" + lo + ", " + hi + "] · ",
      b(la), ": max " + t.amax[c] + ", mean " + t.amean[c] + " · ", b(lb), ": max " + t.bmax[c] + ", mean " + t.bmean[c] + " · ",
      b("max |Δ|"), " " + t.peak[c]);
    ui.capA.replaceChildren(b(la), " · channel " + c);
    ui.capB.replaceChildren(b(lb), " · channel " + c);
    const blue = document.createElement("span"), red = document.createElement("span");
    blue.className = "aw-neg"; blue.textContent = "blue < 0";
    red.className = "aw-pos"; red.textContent = "red";
    ui.capDiff.replaceChildren(b(lb + " − " + la), " · ", blue, " < ", red);
    ui.pictureA.setAttribute("aria-label", "channel " + c + " of " + L.name + stage + " for " + la + ", " + S.cmap + " colormap");
    ui.pictureB.setAttribute("aria-label", "channel " + c + " of " + L.name + stage + " for " + lb + ", " + S.cmap + " colormap");
    ui.pictureDiff.setAttribute("aria-label", lb + " minus " + la + ", channel " + c + ": blue below zero, red above");
  }

  // ------------------------------------------------------------------ controls
  function readMeta() {
    meta = model.get("_meta");
    picker.setMeta(meta);
    fillOptions(ui.cmap, Object.keys(meta.cmaps).filter((n) => meta.cmaps[n].offer || n === S.cmap).map((n) => [n, n]));
    ui.contrast.querySelectorAll("button").forEach((b) => { b.hidden = meta.contrasts.indexOf(b.dataset.value) < 0; });
    showBanner(ui.banner, meta.net);
    ui.labelA.textContent = meta.images[0];
    ui.labelB.textContent = meta.images[1];
  }

  function readPictures() {  // the two images, as thumbnails
    const view = model.get("_pictures"), [H, W] = meta.net.input;
    if (!view || view.byteLength !== 2 * H * W * 3) return;
    [ui.thumbA, ui.thumbB].forEach((canvas, k) => putRGB(canvas, bytesOf(view), H, W, k * H * W * 3));
  }

  function readLayer() {
    const m = model.get("_layer"), view = model.get("_levels");
    data = m && m.shape && view ? compareUnpack(m, view) : null;
  }

  function syncControls() {
    const L = info();
    if (!L) return;
    picker.show(S.layer);
    showSlider(ui.channel, ui.channelOut, S.channel, L.channels);
    showStage(ui.stage, L, S.stage);
    if (!meta.cmaps[S.cmap]) fillOptions(ui.cmap, [[S.cmap, S.cmap]]);
    ui.cmap.value = S.cmap;
    pressToggle(ui.contrast, S.contrast);
    ui.largest.disabled = !fresh();
    ui.caption.textContent = meta.net.name + " · " + meta.net.weights + " · " + meta.images[0] + " and " +
      meta.images[1] + " (" + meta.net.input.join("×") + ")";
  }

  // ------------------------------------------------------------------ changes
  function setLayer(name) {
    const L = meta.layers.find((l) => l.name === name);
    P.set({layer: name, stage: L.default, channel: Math.min(S.channel, L.channels - 1)});
  }

  function largest() {  // the channel whose maps differ most (the first of equals, as numpy's argmax)
    if (!fresh()) return -1;
    let best = 0;
    for (let c = 1; c < data.shape[0]; c++) if (data.table[5 * c + 4] > data.table[5 * best + 4]) best = c;
    return best;
  }

  ui.channel.addEventListener("input", () => setChannel(+ui.channel.value));
  ui.largest.addEventListener("click", () => { if (fresh()) setChannel(largest()); });
  onToggle(ui.stage, (v) => set("stage", v));
  onToggle(ui.contrast, (v) => set("contrast", v));
  ui.cmap.addEventListener("change", () => set("cmap", ui.cmap.value));
  const stopKeys = listenKeys(root, (e, target) => {
    const to = keyTarget(e, target, ui.channel, S.channel, info().channels, 1);
    if (to !== null) setChannel(to);
  });

  const stop = runPage(model, {error: ui.error, keys: COMPARE_STATE, pull: P.pull, sync: syncControls, draw: draw,
    read: {_meta: readMeta, _layer: readLayer, _levels: readLayer, _pictures: readPictures},
    first: [readMeta, readPictures, readLayer], stops: [stopKeys, P.cancel]});
  // For tests and benchmarks: the flips' drawing times, the state, the largest difference's channel.
  root.awCompare = {flips: P.flips, state: () => Object.assign({}, S), largest: largest};
  return stop;
}

const compare = {render};
export default compare;
