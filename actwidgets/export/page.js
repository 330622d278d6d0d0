/* actwidgets static explorer, part 2 of 2: the state and the controls of the
   ActivationExplorer (image, layer picker, stage, channel, view, colormap, contrast, stats line),
   the keyboard and the clicks on grid tiles. Nothing is fetched: every picture is in #aw-data. */
const root = document.getElementById("aw-root");
const el = (id) => document.getElementById("aw-" + id);
const ui = {};
["caption", "banner", "image", "group", "layer", "stage", "channel", "channel-out",
 "strongest", "view", "cmap", "contrast", "picture", "thumb", "thumb-caption", "stats",
 "error"].forEach((id) => { ui[id.replace("-out", "Out").replace("-caption", "Caption")] = el(id); });
const S = Object.assign({}, D.initial);  // image, layer: indices; the rest as in the widget
const flips = [];
let version = 0, generation = 0;

const layer = () => D.layers[S.layer];
const pointOf = (L, stage) => (stage === "pre" ? L.pre : L.post);
const point = () => pointOf(layer(), S.stage);
// The grid shows the levels of its contrast; the channel and overlay views resize the min-max
// levels and apply the contrast after resizing, as the widget does.
const sheetContrast = () => (S.view === "grid" || D.contrasts.indexOf("minmax") < 0 ? S.contrast : "minmax");
const sheetNow = () => loaded.get(sheetKey(S.image, point(), sheetContrast()));
const ready = () => !!sheetNow() && (S.view !== "overlay" || loaded.has("p" + S.image));

// ------------------------------------------------------------------ drawing
function size(W, H) {
  const c = ui.picture;
  if (c.width !== W || c.height !== H) {
    c.width = W;
    c.height = H;
  }
  c.style.width = W * Math.max(1, Math.floor(D.display / W)) + "px";
}

function draw() {  // synchronous: everything it needs is decoded (ready())
  const L = layer(), P = D.points[point()], sh = sheetNow(), ctx = ui.picture.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  if (S.view === "grid") drawGrid(ctx, sh, P, L);
  else drawChannel(ctx, sh, P, S.view === "overlay");
  ui.picture.classList.toggle("aw-grid", S.view === "grid");
  describe(L, P);
  root.dataset.shown = signature();
  root.dataset.version = String(++version);
  tellHeight();
}

function signature() {
  return [D.images[S.image].name, layer().name, S.stage, S.channel, S.view, S.cmap, S.contrast].join("|");
}

function describe(L, P) {
  const st = D.stats[S.image][point()], c = S.channel;
  const stage = L.stages ? " (" + S.stage + "-ReLU)" : "";
  if (!st.split) st.split = {max: st.cmax.split(" "), mean: st.cmean.split(" ")};
  const b = (text) => { const e = document.createElement("b"); e.textContent = text; return e; };
  ui.stats.replaceChildren(
    b(L.name), stage + " · " + P.shape.join("×") + " · min " + st.min + " · max " + st.max +
      " · zeros " + st.zeros + "% · ",
    b("channel " + c), ": max " + st.split.max[c] + ", mean " + st.split.mean[c]);
  const what = S.view === "grid" ? "all " + P.shape[0] + " channels of " + L.name + ", channel " + c + " outlined"
    : "channel " + c + " of " + L.name + (S.view === "overlay" ? " over the image" : " at image size");
  ui.picture.setAttribute("aria-label", what + stage + ", " + S.cmap + " colormap");
}

function fail(err) {
  ui.error.hidden = false;
  ui.error.textContent = "⚠ " + (err && err.message ? err.message : String(err));
}

async function show() {  // load what the state needs, then draw (the newest request only)
  const g = ++generation;
  try {
    await Promise.all([loadSheet(S.image, point(), sheetContrast()),
      S.view === "overlay" ? loadPicture(S.image) : null]);
  } catch (err) {
    fail(err);
    return;
  }
  if (g !== generation) return;
  draw();
  prefetch();
}

function update() {
  if (ready()) {
    generation++;
    draw();
    prefetch();
  } else {
    show();
  }
}

let prefetchTimer = 0;
function prefetch() {  // the other stage, the other contrast, the next layer: flips are instant
  clearTimeout(prefetchTimer);
  prefetchTimer = setTimeout(() => {
    const L = layer(), next = D.layers[S.layer + 1], c0 = sheetContrast();
    const todo = [[L.pre, c0], [L.post, c0]];
    D.contrasts.forEach((c) => todo.push([point(), c]));
    if (next) todo.push([pointOf(next, next.default), c0]);
    todo.reduce((p, [pt, c]) => p.then(() => loadSheet(S.image, pt, c)), Promise.resolve())
      .catch(() => {});
    loadPicture(S.image).catch(() => {});
  }, 50);
}

function tellHeight() {
  if (window.parent !== window) {
    // The content's own height (the document's scroll height never drops below the frame's)
    window.parent.postMessage({awStaticHeight: Math.ceil(document.body.getBoundingClientRect().height) + 4}, "*");
  }
}

// ------------------------------------------------------------------ controls
function options(select, items) {
  select.replaceChildren(...items.map(([label, value]) => {
    const o = document.createElement("option");
    o.textContent = label;
    o.value = String(value);
    return o;
  }));
}

function press(group, value) {
  group.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.value === value)));
}

function syncControls() {
  const L = layer();
  ui.image.value = String(S.image);
  if (!D.groups[+ui.group.value] || D.groups[+ui.group.value].layers.indexOf(S.layer) < 0) {
    ui.group.value = String(L.home);
    options(ui.layer, D.groups[L.home].layers.map((i) => [D.layers[i].label, i]));
  }
  ui.layer.value = String(S.layer);
  ui.channel.max = String(L.channels - 1);
  ui.channel.value = String(S.channel);
  ui.channelOut.textContent = S.channel + " / " + (L.channels - 1);
  press(ui.stage, S.stage);
  ui.stage.querySelectorAll("button").forEach((b) => {
    b.disabled = !L.stages;
    b.title = L.stages ? L.name + ": show the value " + (b.dataset.value === "pre" ? "before" : "after") + " its activation"
      : L.name + " is a " + L.kind + " layer with no activation (ReLU) right after it: before and after are the same value";
  });
  press(ui.view, S.view);
  ui.cmap.value = S.cmap;
  press(ui.contrast, S.contrast);
  const img = D.images[S.image];
  ui.thumb.src = img.src;
  ui.thumb.alt = "the image " + img.name + " as " + D.net.name + " sees it";
  ui.caption.textContent = D.net.name + " · " + D.net.weights + " · image “" + img.name + "” (" +
    D.net.input.join("×") + ")";
}

function setChannel(c) {
  const t0 = performance.now();
  S.channel = Math.min(Math.max(0, c | 0), layer().channels - 1);
  ui.channel.value = String(S.channel);
  ui.channelOut.textContent = S.channel + " / " + (layer().channels - 1);
  update();
  flips.push(performance.now() - t0);
  root.dataset.flipMs = flips[flips.length - 1].toFixed(2);
}

function setLayer(i) {
  const L = D.layers[i];
  S.layer = i;
  S.stage = L.default;
  S.channel = Math.min(S.channel, L.channels - 1);
  syncControls();
  update();
}

function set(name, value) {
  S[name] = value;
  syncControls();
  update();
}

function onTile(e) {  // a click on a grid tile selects that channel
  if (S.view !== "grid") return;
  const L = layer(), P = D.points[point()], [, th, tw] = P.shape, [rows, cols, scale, pad] = L.grid;
  const r = ui.picture.getBoundingClientRect();
  const x = ((e.clientX - r.left) * ui.picture.width) / r.width, y = ((e.clientY - r.top) * ui.picture.height) / r.height;
  const col = Math.floor((x - pad) / (tw * scale + pad)), row = Math.floor((y - pad) / (th * scale + pad));
  const c = row * cols + col;
  if (col >= 0 && row >= 0 && col < cols && row < rows && c < P.shape[0]) setChannel(c);
}

function onKey(e) {  // arrow keys move the channel (up and down: a row of the grid)
  const t = e.target, tag = t && t.tagName;
  if (e.altKey || e.ctrlKey || e.metaKey || tag === "SELECT" || tag === "TEXTAREA" ||
      (tag === "INPUT" && t !== ui.channel) || t === ui.channel) return;
  const L = layer(), row = S.view === "grid" ? L.grid[1] : 1;
  const step = {ArrowRight: 1, ArrowLeft: -1, ArrowDown: row, ArrowUp: -row}[e.key];
  const to = e.key === "Home" ? 0 : e.key === "End" ? L.channels - 1 : step === undefined ? null : S.channel + step;
  if (to === null) return;
  e.preventDefault();
  setChannel(to);
}

function wire() {
  options(ui.image, D.images.map((im, i) => [im.name, i]));
  options(ui.group, D.groups.map((g, i) => [g.label, i]));
  options(ui.cmap, Object.keys(D.cmaps).filter((n) => D.cmaps[n].offer).map((n) => [n, n]));
  ui.contrast.querySelectorAll("button").forEach((b) => { b.hidden = D.contrasts.indexOf(b.dataset.value) < 0; });
  ui.image.addEventListener("change", () => set("image", +ui.image.value));
  ui.group.addEventListener("change", () => {
    const members = D.groups[+ui.group.value].layers;
    options(ui.layer, members.map((i) => [D.layers[i].label, i]));
    if (members.indexOf(S.layer) < 0) setLayer(members[0]);
    else ui.layer.value = String(S.layer);
  });
  ui.layer.addEventListener("change", () => setLayer(+ui.layer.value));
  ui.channel.addEventListener("input", () => setChannel(+ui.channel.value));
  ui.strongest.addEventListener("click", () => setChannel(D.stats[S.image][point()].strongest));
  ui.stage.addEventListener("click", (e) => { const b = e.target.closest("button"); if (b && !b.disabled) set("stage", b.dataset.value); });
  ui.view.addEventListener("click", (e) => { const b = e.target.closest("button"); if (b) set("view", b.dataset.value); });
  ui.contrast.addEventListener("click", (e) => { const b = e.target.closest("button"); if (b) set("contrast", b.dataset.value); });
  ui.cmap.addEventListener("change", () => set("cmap", ui.cmap.value));
  ui.picture.addEventListener("click", onTile);
  document.addEventListener("keydown", onKey);
  window.addEventListener("resize", tellHeight);
  if (window.ResizeObserver) new ResizeObserver(tellHeight).observe(document.body);
}

window.addEventListener("error", (e) => fail(e.error || e.message));
ui.banner.hidden = D.net.pretrained;
ui.thumbCaption.textContent = "what " + D.net.name + " sees (" + D.net.input.join("×") + ")";
wire();
ui.group.value = String(layer().home);
options(ui.layer, D.groups[layer().home].layers.map((i) => [D.layers[i].label, i]));
syncControls();
window.awStatic = {flips: flips, state: () => Object.assign({}, S), data: D};
show();
