/* The exported explorer page (after shim.js): where the kernel would compute a layer, this
   decodes its sheets (greyscale PNG data URIs) into the same bytes the kernel sends. */
function explorerFollow() {
  const cache = new Map();
  let asked = "", pictureOf = null;

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

  return async (state, put) => {  // what the kernel does when the image, layer or stage changes
    const img = D.meta.images.indexOf(state.image), li = D.meta.layers.findIndex((l) => l.name === state.layer);
    const p = D.layerPoints[li][state.stage === "pre" ? 0 : 1], key = [state.image, state.layer, state.stage].join("|");
    if (key === asked) return;
    asked = key;
    const bytes = await layerBytes(img, p);
    const picture = pictureOf !== state.image ? await rgbOf(D.images[img]) : null;
    if (key !== asked) return;  // the newest request wins
    const values = {_layer: Object.assign({image: state.image, layer: state.layer, stage: state.stage, serial: key,
      stats: D.stats[img][p]}, D.points[p]), _levels: new DataView(bytes.buffer), _message: ""};
    if (picture) { values._picture = new DataView(picture.buffer); pictureOf = state.image; }
    put(values);
  };
}

const pageModel = staticModel(Object.assign({_meta: D.meta, _layer: {}, _levels: null, _picture: null, _message: ""}, D.initial),
  explorerFollow());
const explorerView = showPage(explorer, pageModel, "aw-explorer-view", "awExplorer");
document.addEventListener("keydown", (e) => { if (e.target === document.body) explorerView.awExplorer.key(e); });
pageModel.follow();
