/* actwidgets pages, shared controls: what the explorer, the CompareExplorer and the
   FilterExplorer pages all have. Option lists, toggle buttons, the layer picker (a group of
   layers, then a layer of that group), the stage toggle, the channel slider and its arrow keys,
   the random-weights banner, the error line, a debounced send and the model's change events
   read together (one redraw per message), the page's root and state. Plain functions; each
   page's own file uses them. */
const SEND_MS = 120;  // a drag sends its last channel (or filter), not every step

/* The page's root: a div of class `className` holding `template`, in `el`. ui: the elements of
   class "aw-" + name for each of `names`, by the name in camelCase, less `prefix`
   ("cv-patch-note" → ui.patchNote for prefix "cv-"). */
function mount(el, className, template, names, prefix) {
  const root = document.createElement("div");
  root.className = className;
  root.innerHTML = template;
  el.appendChild(root);
  const q = (name) => root.querySelector(".aw-" + name), ui = {};
  names.forEach((n) => {
    const key = prefix && n.startsWith(prefix) ? n.slice(prefix.length) : n;
    ui[key.replace(/-(\w)/g, (_, c) => c.toUpperCase())] = q(n);
  });
  return {root: root, q: q, ui: ui};
}

function bold(text) {
  const e = document.createElement("b");
  e.textContent = text;
  return e;
}

function fillOptions(select, items) {  // items: [label, value] pairs
  select.replaceChildren(...items.map(([label, value]) => {
    const o = document.createElement("option");
    o.textContent = label;
    o.value = String(value);
    return o;
  }));
}

function pressToggle(group, value) {  // the button whose data-value is `value` shows pressed
  group.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.value === value)));
}

function onToggle(group, fn) {  // fn(value) when an enabled button of the group is clicked
  group.addEventListener("click", (e) => {
    const b = e.target.closest("button");
    if (b && !b.disabled) fn(b.dataset.value);
  });
}

function showBanner(el, net) {  // the random-weights warning, hidden for trained weights
  el.hidden = net.pretrained;
  el.innerHTML = "<b>Random weights:</b> ";
  el.append(net.name + " was not loaded with trained weights, so what it shows is not what a " +
    "trained network sees. Load it with weights=\"DEFAULT\" (or a weights file) for real features.");
}

function showError(el, text) {  // the error line: hidden when there is nothing to say
  el.hidden = !text;
  el.textContent = text ? "⚠ " + text : "";
}

function showStage(group, L, stage) {  // pre/post: pressed, and disabled for a layer with no ReLU
  pressToggle(group, stage);
  group.querySelectorAll("button").forEach((b) => {
    b.disabled = !L.stages;
    b.title = L.stages ? L.name + ": show the value " + (b.dataset.value === "pre" ? "before" : "after") + " its activation"
      : L.name + " is a " + L.kind + " layer with no activation (ReLU) right after it: before and after are the same value";
  });
}

function showSlider(input, out, value, count) {  // a range input 0..count-1 and its "value / max"
  input.max = String(count - 1);
  input.value = String(value);
  out.textContent = value + " / " + (count - 1);
}

/* The layer picker: `group` (blocks, kinds, all layers: meta.groups) and `layer` (the layers of
   that group). pick(name) is called when the person picks a layer; a group that does not hold
   the shown layer picks its first. */
function layerPicker(group, layer, pick) {
  let meta = null, shown = "";
  const index = (name) => meta.layers.findIndex((l) => l.name === name);
  const fill = (g) => fillOptions(layer, meta.groups[g].layers.map((i) => [meta.layers[i].label, meta.layers[i].name]));
  group.addEventListener("change", () => {
    const members = meta.groups[+group.value].layers;
    fill(+group.value);
    if (members.indexOf(index(shown)) < 0) pick(meta.layers[members[0]].name);
    else layer.value = shown;
  });
  layer.addEventListener("change", () => pick(layer.value));
  return {
    setMeta(m) {
      meta = m;
      fillOptions(group, m.groups.map((g, i) => [g.label, i]));
      group.value = "";
    },
    show(name) {  // the shown layer: its group's list, unless the chosen group holds it
      shown = name;
      const i = index(name), L = meta.layers[i];
      if (!L) return;
      const g = meta.groups[+group.value];
      if (group.value === "" || !g || g.layers.indexOf(i) < 0) {
        group.value = String(L.home);
        fill(L.home);
      }
      layer.value = name;
    },
  };
}

/* Keys are taken in the window's capture phase, before a notebook's own shortcuts (Notebook 7
   stops them at the document), and only when pressed inside `root` (the event's path: marimo
   draws widgets in a shadow root, whose events the window sees retargeted). Returns the
   function that stops listening. */
function listenKeys(root, onKey) {
  const handler = (e) => {
    const path = e.composedPath();
    if (path.indexOf(root) >= 0) onKey(e, path[0]);
  };
  window.addEventListener("keydown", handler, true);
  return () => window.removeEventListener("keydown", handler, true);
}

/* The channel a key moves to (← → one, ↑ ↓ `row`, Home and End the ends), or null for a key
   that is not ours or pressed in a field (the slider moves itself). A key that is ours is
   stopped: not the notebook's, where arrows would move between cells. */
function keyTarget(e, target, slider, now, count, row) {
  const t = target || e.target, tag = t && t.tagName;
  if (e.altKey || e.ctrlKey || e.metaKey || tag === "SELECT" || tag === "TEXTAREA" || tag === "INPUT" || t === slider) return null;
  const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: row, ArrowUp: -row}[e.key];
  const to = e.key === "Home" ? 0 : e.key === "End" ? count - 1 : step === undefined ? null : now + step;
  if (to === null) return null;
  e.preventDefault();
  e.stopPropagation();
  return Math.min(Math.max(0, to), count - 1);
}

function debounced(ms, fn) {  // call() runs fn once, ms after the last call; pending() says if due
  let timer = 0;
  const call = () => {
    clearTimeout(timer);
    timer = setTimeout(() => { timer = 0; fn(); }, ms);
  };
  call.pending = () => timer !== 0;
  call.cancel = () => { clearTimeout(timer); timer = 0; };
  return call;
}

/* The model's change events: `later` handlers run at once and then one redraw() in a
   microtask (one message may change several keys: draw once they are all in); `now` handlers
   just run. Returns the function that stops listening. */
function watchModel(model, later, now, redraw) {
  let queued = false;
  const run = () => { queued = false; redraw(); };
  const wrap = (fn) => () => { fn(); if (!queued) { queued = true; queueMicrotask(run); } };
  const all = [...Object.entries(later).map(([k, fn]) => ["change:" + k, wrap(fn)]),
    ...Object.entries(now).map(([k, fn]) => ["change:" + k, fn])];
  all.forEach(([ev, fn]) => model.on(ev, fn));
  return () => all.forEach(([ev, fn]) => model.off(ev, fn));
}

function sendUploads(input, model) {  // a picked file goes to the kernel: {event: "upload", name} and its bytes
  input.addEventListener("change", async () => {
    const file = input.files[0];
    if (!file) return;
    const buffer = await file.arrayBuffer();
    input.value = "";
    model.send({event: "upload", name: file.name}, undefined, [buffer]);
  });
}

function errorText(err) {
  return String(err && err.message ? err.message : err);
}

function fitCanvas(canvas, W, H, display) {  // W×H pixels, shown enlarged by an integer factor
  if (canvas.width !== W || canvas.height !== H) { canvas.width = W; canvas.height = H; }
  canvas.style.width = W * Math.max(1, Math.floor(display / W)) + "px";
}

/* A page's state: S holds the traits `keys` as the model has them. set(values) changes some,
   then page.sync() and page.draw() at once, and writes them to the model (the kernel, or the
   exported page, follows). move(i) moves the slider's trait `moving` (the channel, the filter)
   to i of page.count(), draws and sends it debounced, timing the drawing in `flips`. pull()
   reads the model's state, but a moved value not yet sent. */
function pageState(model, keys, moving, page) {
  const S = {}, flips = [];
  const send = (names) => { names.forEach((k) => model.set(k, S[k])); model.save_changes(); };
  const sendMoving = debounced(SEND_MS, () => send([moving]));
  const pull = () => keys.forEach((k) => { if (!(k === moving && sendMoving.pending())) S[k] = model.get(k); });
  pull();
  return {
    S: S, flips: flips, pull: pull, cancel: sendMoving.cancel,
    set(values) {
      Object.assign(S, values);
      page.sync();
      page.draw();
      send(Object.keys(values));
    },
    move(i) {
      const t0 = performance.now(), n = page.count();
      S[moving] = Math.min(Math.max(0, i | 0), n - 1);
      showSlider(page.slider, page.out, S[moving], n);
      page.draw();
      flips.push(performance.now() - t0);
      sendMoving();
    },
  };
}

/* A page's loop over the model (watchModel): `read` (model key → reader) and the state `keys`
   (pulled by `pull` before the redraw) change, then one redraw: sync() and draw(). An error
   there shows in the `error` line (or else the model's _message) and the page keeps working.
   `now`: handlers run at once; `first`: readers run before the first redraw. Returns the
   function that stops listening, after `stops`. */
function runPage(model, p) {
  let pullNeeded = false, jsError = "";
  const showMessage = () => showError(p.error, jsError || model.get("_message"));
  const redraw = () => {
    try {
      if (pullNeeded) p.pull();
      pullNeeded = false;
      if (p.sync) p.sync();
      p.draw();
      jsError = "";
    } catch (err) {
      jsError = errorText(err);
    }
    showMessage();
  };
  const later = Object.assign({}, p.read);
  (p.keys || []).forEach((k) => { later[k] = () => { pullNeeded = true; }; });
  const unwatch = watchModel(model, later, Object.assign({_message: showMessage}, p.now), redraw);
  (p.first || []).forEach((f) => f());
  redraw();
  return () => {
    (p.stops || []).forEach((f) => f());
    unwatch();
  };
}
