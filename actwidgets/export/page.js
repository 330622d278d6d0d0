/* The exported page's model: what anywidget gives the explorer's module in a notebook, made
   here over the data inlined in #aw-data, so the page runs the widget's own module. Where the
   kernel would compute a layer, this decodes its sheets (greyscale PNG data URIs) into the
   same bytes the kernel sends. Nothing is fetched from any server. */
const D = JSON.parse(document.getElementById("aw-data").textContent);

async function pixelsOf(uri) {  // a PNG data URI -> ImageData, no colour conversion
  const bin = atob(uri.slice(uri.indexOf(",") + 1)), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const src = await createImageBitmap(new Blob([bytes], {type: "image/png"}), {colorSpaceConversion: "none", premultiplyAlpha: "none"});
  const c = document.createElement("canvas");
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(src, 0, 0);
  return ctx.getImageData(0, 0, c.width, c.height).data;
}

function pageModel() {
  const state = Object.assign({_meta: D.meta, _layer: {}, _levels: null, _picture: null, _message: ""}, D.initial);
  const listeners = new Map(), cache = new Map();
  let asked = "", pictureOf = null;
  const emit = (k) => (listeners.get("change:" + k) || []).slice().forEach((f) => f());
  const put = (values) => {
    const changed = Object.keys(values).filter((k) => state[k] !== values[k]);
    Object.assign(state, values);
    changed.forEach(emit);
  };

  async function layerBytes(img, p) {  // one image at one point, as the kernel sends it
    const key = img + "|" + p;
    if (!cache.has(key)) {
      cache.set(key, (async () => {
        const meta = D.points[p], sheets = await Promise.all(D.sheets[img][p].map(pixelsOf));
        const n = meta.sheet[0] * meta.sheet[1], values = atob(D.values[img][p]);
        const out = new Uint8Array(sheets.length * n + values.length);
        sheets.forEach((px, k) => { for (let i = 0; i < n; i++) out[k * n + i] = px[4 * i]; });
        for (let i = 0; i < values.length; i++) out[sheets.length * n + i] = values.charCodeAt(i);
        return out;
      })());
      if (cache.size > 12) cache.delete(cache.keys().next().value);
    }
    return cache.get(key);
  }

  async function follow() {  // what the kernel does when the image, layer or stage changes
    const img = D.meta.images.indexOf(state.image), li = D.meta.layers.findIndex((l) => l.name === state.layer);
    const p = D.layerPoints[li][state.stage === "pre" ? 0 : 1], key = [state.image, state.layer, state.stage].join("|");
    if (key === asked) return;
    asked = key;
    try {
      const bytes = await layerBytes(img, p);
      let picture = null;
      if (pictureOf !== state.image) {
        const px = await pixelsOf(D.images[img]);
        picture = new Uint8Array((px.length / 4) * 3);
        for (let i = 0, j = 0; i < px.length; i += 4, j += 3) picture.set(px.subarray(i, i + 3), j);
      }
      if (key !== asked) return;  // the newest request wins
      const values = {_layer: Object.assign({image: state.image, layer: state.layer, stage: state.stage, serial: key,
        stats: D.stats[img][p]}, D.points[p]), _levels: new DataView(bytes.buffer), _message: ""};
      if (picture) { values._picture = new DataView(picture.buffer); pictureOf = state.image; }
      put(values);
    } catch (err) {
      put({_message: String(err && err.message ? err.message : err)});
    }
  }

  return {
    get: (k) => state[k],
    set: (k, v) => put({[k]: v}),
    on: (ev, f) => { if (!listeners.has(ev)) listeners.set(ev, []); listeners.get(ev).push(f); },
    off: (ev, f) => { const l = listeners.get(ev) || []; if (l.indexOf(f) >= 0) l.splice(l.indexOf(f), 1); },
    save_changes: () => { follow(); },
    send: () => {},
    follow: follow,
  };
}

const model = pageModel(), root = document.getElementById("aw-root");
explorer.render({model: model, el: root});
const view = root.querySelector(".aw-explorer-view");
document.addEventListener("keydown", (e) => { if (e.target === document.body) view.awExplorer.key(e); });
function tellHeight() {  // inside a notebook's iframe: ask for the content's height
  if (window.parent !== window) {
    window.parent.postMessage({awStaticHeight: Math.ceil(document.body.getBoundingClientRect().height) + 4}, "*");
  }
}
window.addEventListener("resize", tellHeight);
if (window.ResizeObserver) new ResizeObserver(tellHeight).observe(document.body);
window.addEventListener("error", (e) => model.set("_message", String(e.message || e.error)));
window.awStatic = {model: model, view: view, flips: view.awExplorer.flips, state: view.awExplorer.state, data: D};
model.follow();
