/* actwidgets explorer, part 3 of 3 (after draw.js and controls.js): the page, its state and the model. The state is the
   widget's traits (image, layer, stage, channel, view, cmap, contrast); `_meta` describes the
   network, `_layer` + `_levels` hold the shown layer (sent once per image/layer/stage change),
   `_picture` the image's RGB pixels, `_message` the message to show. Channel, view, colormap and
   contrast changes are drawn here at once; the kernel (or the exported page's data) is asked
   only for a new layer. The same module runs in a notebook (anywidget) and in exported pages. */
const STATE = ["image", "layer", "stage", "channel", "view", "cmap", "contrast"];
const TEMPLATE = `
<p class="aw-banner" hidden></p>
<p class="aw-caption"></p>
<div class="aw-row"><label>image <select class="aw-image"></select></label>
  <label class="aw-upload" title="Your own picture (PNG, JPEG, ...); it is resized and cropped to the input size">Upload photo
  <input class="aw-upload-input" type="file" accept="image/*"></label></div>
<div class="aw-row"><label>layer <select class="aw-group" title="A block of the network, every layer of one kind, or all layers"></select></label>
  <select class="aw-layer" aria-label="layer" title="The layer shown: name · channels · height×width"></select>
  <span class="aw-stage aw-toggle" role="group" aria-label="stage"><button type="button" data-value="pre">pre-ReLU</button><button type="button" data-value="post">post-ReLU</button></span></div>
<div class="aw-row"><label>channel <input class="aw-channel" type="range" min="0" max="0" step="1" value="0"></label>
  <output class="aw-channel-out">0</output>
  <button class="aw-strongest" type="button" title="Select the channel with the largest activation">⚡ strongest channel</button></div>
<div class="aw-row"><span class="aw-field">view <span class="aw-view aw-toggle" role="group" aria-label="view">
  <button type="button" data-value="grid" title="All channels (the selected one outlined)">grid</button><button type="button" data-value="channel" title="The selected channel at image size">channel</button><button type="button" data-value="overlay" title="The selected channel over the image">overlay</button></span></span>
  <label class="aw-field">colormap <select class="aw-cmap"></select></label>
  <span class="aw-field">contrast <span class="aw-contrast aw-toggle" role="group" aria-label="contrast">
  <button type="button" data-value="minmax" title="Scale the lowest value to black and the highest to white (MATLAB's mat2gray)">min-max</button><button type="button" data-value="stretch" title="Clip the lowest and highest 1% first, then scale (MATLAB's stretchlim + imadjust)">percentile</button></span></span></div>
<div class="aw-pictures"><canvas class="aw-picture" tabindex="0" role="img" aria-label="activations"></canvas>
  <figure class="aw-thumb"><canvas class="aw-thumb-picture"></canvas><figcaption class="aw-thumb-caption"></figcaption></figure></div>
<p class="aw-stats" aria-live="polite"></p>
<p class="aw-error" role="alert" hidden></p>
<p class="aw-help">Click a tile of the grid to pick its channel; ← → move the channel, ↑ ↓ a row of the grid, Home and End the first and last.</p>`;

function render({model, el}) {
  const {root, ui} = mount(el, "aw-explorer-view aw-page", TEMPLATE,
    ["banner", "caption", "image", "upload", "upload-input", "group", "layer", "stage", "channel", "channel-out",
     "strongest", "view", "cmap", "contrast", "picture", "thumb-picture", "thumb-caption", "stats", "error"]);
  const bases = new Map();
  let meta = null, data = null, rgb = null, version = 0;
  const P = pageState(model, STATE, "channel",
    {sync: syncControls, draw: draw, count: () => info().channels, slider: ui.channel, out: ui.channelOut});
  const S = P.S, flips = P.flips, set = (name, value) => P.set({[name]: value}), setChannel = P.move;
  const picker = layerPicker(ui.group, ui.layer, (name) => setLayer(name));

  const layerIndex = () => meta.layers.findIndex((l) => l.name === S.layer);
  const info = () => meta.layers[layerIndex()];
  const fresh = () => !!data && data.image === S.image && data.layer === S.layer && data.stage === S.stage;
  const sheetContrast = () => (S.view === "grid" || data.contrasts.indexOf("minmax") < 0 ? S.contrast : "minmax");

  // ------------------------------------------------------------------ drawing
  const size = fitCanvas;

  function gridCanvas() {
    const key = [data.serial, S.contrast, S.cmap].join("|");
    if (!bases.has(key)) {
      if (bases.size >= 6) bases.delete(bases.keys().next().value);
      bases.set(key, gridBase(data, S.contrast, wordTable(meta.cmaps, S.cmap, "grid")));
    }
    return bases.get(key);
  }

  function draw() {  // synchronous: the layer's levels are here
    root.classList.toggle("aw-busy", !fresh());
    if (!fresh()) return;
    const c = Math.min(S.channel, data.shape[0] - 1), ctx = ui.picture.getContext("2d"), canvas = ui.picture;
    const flat = data.shape[1] === 1 && data.shape[2] === 1;
    ctx.imageSmoothingEnabled = false;
    if (S.view === "grid") {
      size(canvas, data.grid[5], data.grid[4], meta.display);
      drawGrid(ctx, gridCanvas(), data, c, meta.outline);
    } else if (flat) {
      const im = paintBars(data.values, c, meta.outline, 200, 640);
      size(canvas, im.width, im.height, meta.display);
      ctx.putImageData(im, 0, 0);
    } else {
      const [H, W] = meta.net.input, overlay = S.view === "overlay";
      if (overlay && !rgb) return;
      const stretch = S.contrast === "stretch" && sheetContrast() !== "stretch";
      const lev = channelLevels(data, data.levels[sheetContrast()], c, [H, W], overlay, stretch);
      size(canvas, W, H, meta.display);
      const im = new ImageData(W, H);
      if (overlay) paintOverlay(im, lev, rgb.pixels, rgbTable(meta.cmaps, meta.cmaps[S.cmap].overlay, "lut"), meta.alpha);
      else paintChannel(im, lev, wordTable(meta.cmaps, S.cmap, "lut"));
      ctx.putImageData(im, 0, 0);
    }
    canvas.classList.toggle("aw-grid", S.view === "grid");
    describe(c, flat);
    root.dataset.shown = [S.image, S.layer, S.stage, S.channel, S.view, S.cmap, S.contrast].join("|");
    root.dataset.version = String(++version);
  }

  function describe(c, flat) {
    const L = info(), st = data.stats, stage = L.stages ? " (" + S.stage + "-ReLU)" : "";
    if (!st.split) st.split = {max: st.cmax.split(" "), mean: st.cmean.split(" ")};
    const b = bold;
    let tail = ": max " + st.split.max[c] + ", mean " + st.split.mean[c];
    if (flat) {
      let rank = 1;
      for (const v of data.values) if (v > data.values[c]) rank++;
      tail = ": value " + st.split.max[c] + ", rank " + rank + " of " + data.shape[0] +
        " (1×1 maps: one value per channel, shown as bars)";
    }
    ui.stats.replaceChildren(b(L.name), stage + " · " + data.shape.join("×") + " · min " + st.min +
      " · max " + st.max + " · zeros " + st.zeros + "% · ", b("channel " + c), tail);
    const what = S.view === "grid" ? "all " + data.shape[0] + " channels of " + L.name + ", channel " + c + " outlined"
      : "channel " + c + " of " + L.name + (S.view === "overlay" ? " over the image" : " at image size");
    ui.picture.setAttribute("aria-label", what + stage + ", " + S.cmap + " colormap");
  }

  // ------------------------------------------------------------------ controls
  const options = fillOptions, press = pressToggle;

  function readMeta() {
    meta = model.get("_meta");
    options(ui.image, meta.images.map((n) => [n, n]));
    picker.setMeta(meta);
    options(ui.cmap, Object.keys(meta.cmaps).filter((n) => meta.cmaps[n].offer || n === S.cmap).map((n) => [n, n]));
    ui.contrast.querySelectorAll("button").forEach((b) => { b.hidden = meta.contrasts.indexOf(b.dataset.value) < 0; });
    ui.upload.hidden = !meta.upload;
    showBanner(ui.banner, meta.net);
    ui.thumbCaption.textContent = "what " + meta.net.name + " sees (" + meta.net.input.join("×") + ")";
  }

  function syncControls() {
    const L = info();
    if (!L) return;
    ui.image.value = S.image;
    picker.show(S.layer);
    showSlider(ui.channel, ui.channelOut, S.channel, L.channels);
    showStage(ui.stage, L, S.stage);
    press(ui.view, S.view);
    if (!meta.cmaps[S.cmap]) options(ui.cmap, [[S.cmap, S.cmap]]);
    ui.cmap.value = S.cmap;
    press(ui.contrast, S.contrast);
    ui.caption.textContent = meta.net.name + " · " + meta.net.weights + " · image “" + S.image + "” (" + meta.net.input.join("×") + ")";
  }

  function readPicture() {  // the image's RGB pixels: the overlay's background and the thumbnail
    const pixels = bytesOf(model.get("_picture")), [H, W] = meta.net.input;
    rgb = pixels.length === H * W * 3 ? {pixels: pixels} : null;
    if (rgb) putRGB(ui.thumbPicture, pixels, H, W);
  }

  function readLayer() {
    const m = model.get("_layer"), view = model.get("_levels");
    data = m && m.shape && view ? unpack(m, view) : null;
    bases.clear();
  }

  // ------------------------------------------------------------------ changes
  function setLayer(name) {
    const L = meta.layers.find((l) => l.name === name);
    P.set({layer: name, stage: L.default, channel: Math.min(S.channel, L.channels - 1)});
  }

  function onTile(e) {  // a click on a grid tile selects that channel
    if (S.view !== "grid" || !fresh()) return;
    const r = ui.picture.getBoundingClientRect();
    const c = tileAt(data, ((e.clientX - r.left) * ui.picture.width) / r.width, ((e.clientY - r.top) * ui.picture.height) / r.height);
    if (c >= 0) setChannel(c);
  }

  function onKey(e, target) {  // arrow keys move the channel (up and down: a row of the grid)
    const row = S.view === "grid" && fresh() ? data.grid[1] : 1;
    const to = keyTarget(e, target, ui.channel, S.channel, info().channels, row);
    if (to !== null) setChannel(to);
  }

  const clicks = onToggle;
  ui.image.addEventListener("change", () => set("image", ui.image.value));
  ui.channel.addEventListener("input", () => setChannel(+ui.channel.value));
  ui.strongest.addEventListener("click", () => { if (fresh()) setChannel(data.stats.strongest); });
  clicks(ui.stage, (v) => set("stage", v));
  clicks(ui.view, (v) => set("view", v));
  clicks(ui.contrast, (v) => set("contrast", v));
  ui.cmap.addEventListener("change", () => set("cmap", ui.cmap.value));
  ui.picture.addEventListener("click", onTile);
  sendUploads(ui.uploadInput, model);
  const stopKeys = listenKeys(root, onKey);

  const stop = runPage(model, {error: ui.error, keys: STATE, pull: P.pull, sync: syncControls, draw: draw,
    read: {_meta: readMeta, _layer: readLayer, _levels: readLayer, _picture: readPicture},
    first: [readMeta, readPicture, readLayer], stops: [stopKeys, P.cancel]});
  // For tests and benchmarks: the flips' drawing times, the state, the shown layer's geometry.
  root.awExplorer = {flips: flips, state: () => Object.assign({}, S), key: onKey, meta: () => meta,
    layer: () => (data ? {shape: data.shape, grid: data.grid, stats: data.stats} : null)};
  return stop;
}

const explorer = {render};
export default explorer;
