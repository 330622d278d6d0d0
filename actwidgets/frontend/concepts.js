/* actwidgets concept view (after draw.js and controls.js): a layer's concepts over an image,
   each a colour whose opacity is its strength, as actwidgets.concepts.pictures draws them. The
   state is the widget's traits (image, concept, hidden, alpha); `_meta` holds the concepts
   (colours, scales, loadings, top channels and patches), `_image` + `_maps` the image's maps
   (8-bit levels, each over its largest value, then those values as float32: sent once per image),
   `_picture` its RGB pixels, `_fv` the feature visualisations, `_message` the message to show.
   Picking, hiding and the opacity are drawn here at once; the kernel is asked only for an image. */
const CONCEPT_STATE = ["image", "concept", "hidden", "alpha"];
const CONCEPT_TEMPLATE = `
<p class="aw-banner" hidden></p>
<p class="aw-caption"></p>
<div class="aw-row"><label>image <select class="aw-image"></select></label>
  <label class="aw-upload" title="Your own picture (PNG, JPEG, ...), projected onto the concepts">Upload photo
  <input class="aw-upload-input" type="file" accept="image/*"></label>
  <label title="Opacity of a concept at full strength">opacity <input class="aw-alpha" type="range" min="0" max="1" step="0.05"></label>
  <output class="aw-alpha-out"></output>
  <button class="aw-all" type="button" title="Show every concept that is not hidden">all concepts</button></div>
<div class="aw-pictures"><canvas class="aw-picture" tabindex="0" role="img" aria-label="concepts"></canvas>
  <ol class="aw-legend" aria-label="concepts"></ol></div>
<section class="aw-detail" hidden>
  <h4 class="aw-detail-title"></h4>
  <figure class="aw-figure"><canvas class="aw-loadings" role="img"></canvas>
    <figcaption>which channels make it: its loadings, channel by channel (the strongest in its colour)</figcaption></figure>
  <figure class="aw-figure"><div class="aw-patches"></div><figcaption class="aw-patches-caption"></figcaption></figure>
  <figure class="aw-figure aw-fv"><img class="aw-fv-picture" alt="" hidden>
    <figcaption><button class="aw-fv-run" type="button" title="Maximise the concept's direction (in the background)">feature visualisation</button>
    <button class="aw-fv-stop" type="button">stop</button> <span class="aw-fv-status"></span></figcaption></figure>
</section>
<p class="aw-error" role="alert" hidden></p>
<p class="aw-help">Click a concept in the legend to see it alone (again: all of them); its box hides it from the picture of all.</p>`;

/* An image's maps: levels (n, h, w) and each map's largest value. */
function unpackMaps(meta, view) {
  const [n, h, w] = meta.shape, base = view.byteOffset;
  const levels = new Uint8Array(view.buffer, base, n * h * w);
  const top = new Float32Array(view.buffer.slice(base + n * h * w, base + n * h * w + 4 * n));
  return Object.assign({}, meta, {levels: levels, top: top});
}

/* actwidgets.concepts.pictures.concept_picture: each concept's strength (its map over its
   scale, clipped to [0, 1]) resized to the picture as Pillow's bilinear filter does; the pixel
   takes the concepts' colours mixed by strength, over the photo with opacity alpha x the
   strongest concept there. */
function compositeConcepts(meta, data, rgb, which, alpha) {
  const [, h, w] = data.shape, [H, W] = meta.net.input, N = H * W;
  const bigs = which.map((k) => {
    const small = new Float64Array(h * w), s = meta.scale[k], f = s > 0 ? data.top[k] / 255 / s : 0;
    for (let i = 0; i < h * w; i++) small[i] = Math.min(1, Math.max(0, data.levels[k * h * w + i] * f));
    const big = Float64Array.from(resized(small, h, w, H, W));
    for (let i = 0; i < N; i++) big[i] = Math.min(1, Math.max(0, big[i]));
    return big;
  });
  const colours = which.map((k) => meta.colors[k]), im = new ImageData(W, H), px = im.data;
  for (let i = 0, p = 0; i < N; i++, p += 4) {
    let total = 0, most = 0, r = 0, g = 0, b = 0;
    for (let j = 0; j < bigs.length; j++) {
      const v = bigs[j][i], c = colours[j];
      total += v; if (v > most) most = v;
      r += v * c[0]; g += v * c[1]; b += v * c[2];
    }
    const d = Math.max(total, 1e-12), op = alpha * most, mix = [r / d, g / d, b / d];
    for (let j = 0; j < 3; j++) {
      const v = rgb[3 * i + j] * (1 - op) + mix[j] * op;
      px[p + j] = Math.min(255, Math.max(0, Math.floor(v + 0.5)));
    }
    px[p + 3] = 255;
  }
  return im;
}

function renderConcepts({model, el}) {
  const {root, ui} = mount(el, "aw-concepts-view", CONCEPT_TEMPLATE,
    ["banner", "caption", "image", "upload", "upload-input", "alpha", "alpha-out", "all", "picture", "legend", "detail",
     "detail-title", "loadings", "patches", "patches-caption", "fv-picture", "fv-run", "fv-stop", "fv-status", "error"]);
  let meta = null, data = null, rgb = null, version = 0;
  const P = pageState(model, CONCEPT_STATE, null, {sync: syncControls, draw: draw});
  const S = P.S, flips = P.flips, set = (name, value) => P.set({[name]: value});

  const fresh = () => !!data && !!rgb && data.image === S.image;
  const which = () => (S.concept >= 0 ? [S.concept] : [...Array(meta.n).keys()].filter((k) => S.hidden.indexOf(k) < 0));

  function draw() {  // synchronous: the image's maps are here
    root.classList.toggle("aw-busy", !fresh());
    if (!fresh()) return;
    const t0 = performance.now(), [H, W] = meta.net.input, canvas = ui.picture;
    fitCanvas(canvas, W, H, meta.display);
    canvas.getContext("2d").putImageData(compositeConcepts(meta, data, rgb.pixels, which(), S.alpha), 0, 0);
    flips.push(performance.now() - t0);
    const shown = which();
    canvas.setAttribute("aria-label", (S.concept >= 0 ? "concept " + S.concept + " alone" : shown.length + " concepts") +
      " of " + meta.layer + " over the image " + S.image);
    root.dataset.shown = [S.image, S.concept, S.hidden.join(","), S.alpha].join("|");
    root.dataset.version = String(++version);
  }

  // ------------------------------------------------------------------ legend and detail
  function legend() {
    ui.legend.replaceChildren(...meta.legend.map((L, k) => {
      const li = document.createElement("li"), box = document.createElement("input"), pick = document.createElement("button");
      li.dataset.concept = String(k);
      box.type = "checkbox";
      box.title = "Show concept " + k + " in the picture of all concepts";
      box.addEventListener("change", () => {
        const hidden = S.hidden.filter((i) => i !== k);
        if (!box.checked) hidden.push(k);
        set("hidden", hidden.sort((a, b) => a - b));
      });
      pick.type = "button";
      pick.className = "aw-pick";
      const sw = document.createElement("span");
      sw.className = "aw-swatch";
      sw.style.background = "rgb(" + meta.colors[k].join(",") + ")";
      pick.append(sw, "concept " + k + ": channels " + L.channels.map((c, j) => c + " (" + Math.round(100 * L.shares[j]) + " %)").join(", "));
      pick.addEventListener("click", () => set("concept", S.concept === k ? -1 : k));
      li.append(box, pick);
      return li;
    }));
  }

  function syncControls() {
    ui.image.value = S.image;
    ui.alpha.value = String(S.alpha);
    ui.alphaOut.textContent = Math.round(100 * S.alpha) + " %";
    ui.all.setAttribute("aria-pressed", String(S.concept < 0));
    ui.legend.querySelectorAll("li").forEach((li) => {
      const k = +li.dataset.concept;
      li.querySelector("input").checked = S.hidden.indexOf(k) < 0;
      li.querySelector("button").setAttribute("aria-pressed", String(S.concept === k));
    });
    ui.caption.textContent = meta.net.name + " · " + meta.net.weights + " · " + meta.layer + " (" + meta.stage +
      "-ReLU) · " + meta.n + " concepts of " + meta.channels + " channels over " + meta.n_images + " image" +
      (meta.n_images === 1 ? "" : "s") + ", explaining " + Math.round(100 * meta.explained) + " % · image “" + S.image + "”";
    detail();
  }

  function detail() {
    const k = S.concept;
    ui.detail.hidden = k < 0;
    if (k < 0) return;
    const L = meta.legend[k];
    ui.detailTitle.textContent = "concept " + k + ": channels " + L.channels.join(", ") + " lead it";
    const bars = paintBars(meta.loadings[k], L.channels[0], meta.colors[k], 120, 480);
    ui.loadings.width = bars.width;
    ui.loadings.height = bars.height;
    ui.loadings.getContext("2d").putImageData(bars, 0, 0);
    ui.loadings.setAttribute("aria-label", "loadings of concept " + k + " on " + meta.channels + " channels");
    ui.patches.replaceChildren(...L.patches.map((p) => {
      const f = document.createElement("figure"), img = document.createElement("img"), cap = document.createElement("figcaption");
      img.src = p.src;
      img.alt = p.caption;
      cap.textContent = p.caption;
      f.append(img, cap);
      return f;
    }));
    ui.patchesCaption.textContent = L.patches.length ? "its best cells over the collection (receptive fields)"
      : "no top cells kept (layer_concepts with top > 0 over a collection)";
    const fv = (model.get("_fv") || {})[String(k)];
    ui.fvPicture.hidden = !(fv && fv.src);
    if (fv && fv.src) { ui.fvPicture.src = fv.src; ui.fvPicture.alt = "feature visualisation of concept " + k; }
    ui.fvRun.hidden = !meta.kernel;
    ui.fvRun.disabled = !!(fv && fv.running);
    ui.fvStop.hidden = !meta.kernel || !(fv && fv.running);
    ui.fvStatus.textContent = fv ? fv.status : meta.kernel ? "" : "no feature visualisation was computed";
  }

  function readMeta() {
    meta = model.get("_meta");
    fillOptions(ui.image, meta.images.map((n) => [n, n]));
    ui.upload.hidden = !meta.kernel;
    ui.banner.hidden = meta.net.pretrained;
    ui.banner.textContent = "Random weights: " + meta.net.name + " was not loaded with trained weights, so its concepts are not a trained network's.";
    legend();
  }

  function readImage() {
    const m = model.get("_image"), view = model.get("_maps"), pixels = bytesOf(model.get("_picture")), [H, W] = meta.net.input;
    data = m && m.shape && view ? unpackMaps(m, view) : null;
    rgb = pixels.length === H * W * 3 ? {pixels: pixels} : null;
  }

  // ------------------------------------------------------------------ changes
  ui.image.addEventListener("change", () => set("image", ui.image.value));
  sendUploads(ui.uploadInput, model);
  ui.alpha.addEventListener("input", () => set("alpha", +ui.alpha.value));
  ui.all.addEventListener("click", () => set("concept", -1));
  ui.fvRun.addEventListener("click", () => model.send({event: "visualize", concept: S.concept}));
  ui.fvStop.addEventListener("click", () => model.send({event: "stop", concept: S.concept}));

  const stop = runPage(model, {error: ui.error, keys: CONCEPT_STATE, pull: P.pull, sync: syncControls, draw: draw,
    read: {_meta: readMeta, _image: readImage, _maps: readImage, _picture: readImage, _fv: () => {}},
    first: [readMeta, readImage]});
  // For tests: the drawing times and the state.
  root.awConcepts = {flips: flips, state: () => Object.assign({}, S), meta: () => meta};
  return stop;
}

const conceptView = {render: renderConcepts};
export default conceptView;
