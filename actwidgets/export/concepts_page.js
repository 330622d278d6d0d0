/* The exported concept page's model: what anywidget gives the concept view's module in a
   notebook, made here over the data inlined in #aw-data, so the page runs the widget's own
   module. Where the kernel would send an image's maps and pixels, this decodes them from the
   page (base64 levels, a PNG data URI). Nothing is fetched from any server. */
const D = JSON.parse(document.getElementById("aw-data").textContent);

async function rgbOf(uri) {  // a PNG data URI -> (H * W * 3) RGB bytes, no colour conversion
  const bin = atob(uri.slice(uri.indexOf(",") + 1)), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const src = await createImageBitmap(new Blob([bytes], {type: "image/png"}), {colorSpaceConversion: "none", premultiplyAlpha: "none"});
  const c = document.createElement("canvas");
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(src, 0, 0);
  const px = ctx.getImageData(0, 0, c.width, c.height).data, out = new Uint8Array((px.length / 4) * 3);
  for (let i = 0, j = 0; i < px.length; i += 4, j += 3) out.set(px.subarray(i, i + 3), j);
  return out;
}

function conceptsModel() {
  const state = Object.assign({_meta: D.meta, _image: {}, _maps: null, _picture: null, _fv: D.fv, _message: ""}, D.initial);
  const listeners = new Map();
  let asked = "";
  const emit = (k) => (listeners.get("change:" + k) || []).slice().forEach((f) => f());
  const put = (values) => {
    const changed = Object.keys(values).filter((k) => state[k] !== values[k]);
    Object.assign(state, values);
    changed.forEach(emit);
  };

  async function follow() {  // what the kernel does when the image changes
    if (state.image === asked) return;
    const name = asked = state.image, img = D.images[D.meta.images.indexOf(name)];
    try {
      const picture = await rgbOf(img.picture), bin = atob(img.maps), maps = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) maps[i] = bin.charCodeAt(i);
      if (name !== asked) return;  // the newest request wins
      put({_picture: new DataView(picture.buffer), _maps: new DataView(maps.buffer),
        _image: {image: name, shape: img.shape, serial: name}, _message: ""});
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

const model = conceptsModel(), root = document.getElementById("aw-root");
conceptView.render({model: model, el: root});
const view = root.querySelector(".aw-concepts-view");
function tellHeight() {  // inside a notebook's iframe: ask for the content's height
  if (window.parent !== window) {
    window.parent.postMessage({awStaticHeight: Math.ceil(document.body.getBoundingClientRect().height) + 4}, "*");
  }
}
window.addEventListener("resize", tellHeight);
if (window.ResizeObserver) new ResizeObserver(tellHeight).observe(document.body);
window.addEventListener("error", (e) => model.set("_message", String(e.message || e.error)));
window.awStatic = {model: model, view: view, flips: view.awConcepts.flips, state: view.awConcepts.state, data: D};
model.follow();
