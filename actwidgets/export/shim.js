/* The exported pages' model: what anywidget gives a widget's module in a notebook, made here
   over the data inlined in #aw-data, so a page runs the widget's own module. The page's own file
   follows (page.js for the explorer, concepts_page.js for the concept view): it decodes from the
   page what the kernel would send (its `follow`) and shows the widget (showPage). Nothing is
   fetched from any server. */
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

async function rgbOf(uri) {  // a PNG data URI -> (H * W * 3) RGB bytes, no colour conversion
  const px = await pixelsOf(uri), out = new Uint8Array((px.length / 4) * 3);
  for (let i = 0, j = 0; i < px.length; i += 4, j += 3) out.set(px.subarray(i, i + 3), j);
  return out;
}

/* The model over `state`: get, set, on, off as anywidget's; save_changes() runs
   follow(state, put), the page's stand-in for the kernel, which put()s what it would send. */
function staticModel(state, follow) {
  const listeners = new Map();
  const emit = (k) => (listeners.get("change:" + k) || []).slice().forEach((f) => f());
  const put = (values) => {
    const changed = Object.keys(values).filter((k) => state[k] !== values[k]);
    Object.assign(state, values);
    changed.forEach(emit);
  };
  const run = async () => {
    try {
      await follow(state, put);
    } catch (err) {
      put({_message: errorText(err)});
    }
  };
  return {
    get: (k) => state[k],
    set: (k, v) => put({[k]: v}),
    on: (ev, f) => { if (!listeners.has(ev)) listeners.set(ev, []); listeners.get(ev).push(f); },
    off: (ev, f) => { const l = listeners.get(ev) || []; if (l.indexOf(f) >= 0) l.splice(l.indexOf(f), 1); },
    save_changes: () => { run(); },
    send: () => {},
    follow: run,
  };
}

/* Render `widget` on the page over `model`; its view is the element of class `className`,
   whose `handle` (awExplorer, awConcepts) the tests read as window.awStatic. */
function showPage(widget, model, className, handle) {
  const root = document.getElementById("aw-root");
  widget.render({model: model, el: root});
  const view = root.querySelector("." + className);
  const tellHeight = () => {  // inside a notebook's iframe: ask for the content's height
    if (window.parent !== window) {
      window.parent.postMessage({awStaticHeight: Math.ceil(document.body.getBoundingClientRect().height) + 4}, "*");
    }
  };
  window.addEventListener("resize", tellHeight);
  if (window.ResizeObserver) new ResizeObserver(tellHeight).observe(document.body);
  window.addEventListener("error", (e) => model.set("_message", String(e.message || e.error)));
  window.awStatic = {model: model, view: view, flips: view[handle].flips, state: view[handle].state, data: D};
  return view;
}
