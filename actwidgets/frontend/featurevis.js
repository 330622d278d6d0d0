/* actwidgets FeatureVisualizer page (after draw.js and controls.js). The state is
   the widget's traits (layer, channels, method, steps, size, selected), written back when a
   control changes; the kernel checks each value (a bad one shows in `_message` and the control
   snaps back). `running`, `progress`, `_stopping`, `_problem`, `_status` and `_outcome` follow
   the run; `_pictures` holds the pictures as raw RGB bytes (N, size, size, 3), `_shape` says
   what they are. The grid and the enlarged picture are drawn here; Run and Stop send
   {event: "run"} and {event: "stop"}. */
const FV_TEMPLATE = `
<p class="aw-banner" hidden></p>
<div class="aw-fv-row"><label>layer <select class="aw-fv-layer"></select></label>
  <label>channels <input class="aw-fv-channels" type="text" size="12" placeholder="0-7 or 1,5,9" title="Channels: 0-7, 1,5,9 or 0-3,10 (press Enter)"></label>
  <span class="aw-fv-range"></span></div>
<div class="aw-fv-row"><span>method</span> <span class="aw-fv-method aw-fv-toggle" role="group" aria-label="method"></span></div>
<div class="aw-fv-row"><label>steps <input class="aw-fv-steps" type="number" min="1" step="1"></label>
  <label>size (px) <input class="aw-fv-size" type="number" step="1"></label>
  <button type="button" class="aw-fv-run aw-fv-primary">▶ Run</button>
  <button type="button" class="aw-fv-stop" title="End the run after the current step, keeping its pictures">■ Stop</button>
  <progress class="aw-fv-progress" value="0" max="1"></progress><output class="aw-fv-count"></output></div>
<p class="aw-fv-status"></p>
<p class="aw-error" role="alert" hidden></p>
<div class="aw-fv-grid"></div>
<div class="aw-fv-row"><label>enlarge <select class="aw-fv-selected" title="One of the computed channels, shown larger"></select></label></div>
<canvas class="aw-fv-big" role="img" hidden></canvas>
<p class="aw-fv-help">Click a picture to enlarge it.</p>`;

function fvRender({model, el}) {
  const {root, ui} = mount(el, "aw-featurevis-view", FV_TEMPLATE, ["banner", "fv-layer", "fv-channels", "fv-range",
    "fv-method", "fv-steps", "fv-size", "fv-run", "fv-stop", "fv-progress", "fv-count", "fv-status", "error",
    "fv-grid", "fv-selected", "fv-big"], "fv-");
  let version = 0, meta = null, picturesChanged = true;
  const changed = new Set();  // the traits of the inputs changed since the last redraw

  function readMeta() {
    meta = model.get("_meta");
    fillOptions(ui.layer, meta.layers.map((l) => [l.label, l.name]));
    ui.method.replaceChildren(...meta.methods.map(([name, tip]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.value = name;
      b.textContent = name;
      b.title = tip;
      return b;
    }));
    ui.steps.max = String(meta.max_steps);
    ui.size.min = String(meta.sizes[0]);
    ui.size.max = String(meta.sizes[1]);
    showBanner(ui.banner, meta.net);
  }

  function syncControls() {  // the controls show the model's state, the buttons follow the run
    const L = meta.layers.find((l) => l.name === model.get("layer"));
    ui.layer.value = model.get("layer");
    // An input the person is typing in keeps what is typed while a progress report redraws,
    // and shows its trait's value when that changes (a value snapped back by the kernel). The
    // focus is read from the root's own document or shadow root (marimo draws in one).
    const typing = (input, name) => input.getRootNode().activeElement === input && !changed.has(name);
    if (!typing(ui.channels, "channels")) ui.channels.value = model.get("channels");
    ui.range.textContent = L ? "of 0.." + (L.channels - 1) + " · stage " + L.stage : "";
    pressToggle(ui.method, model.get("method"));
    if (!typing(ui.steps, "steps")) ui.steps.value = String(model.get("steps"));
    if (!typing(ui.size, "size")) ui.size.value = String(model.get("size"));
    changed.clear();
    const running = model.get("running"), problem = model.get("_problem"), [done, total] = model.get("progress");
    ui.run.disabled = running || !!problem;
    ui.run.title = problem || (running ? "A run is going: press Stop first" : "Optimise one picture per channel (all together, as one batch)");
    ui.stop.disabled = !running || model.get("_stopping");
    ui.progress.max = Math.max(1, total);
    ui.progress.value = done;
    ui.progress.dataset.outcome = running ? "info" : model.get("_outcome");
    ui.count.textContent = total ? done + "/" + total : "";
    ui.status.textContent = model.get("_status");
    root.dataset.run = running ? (model.get("_stopping") ? "stopping" : "running") : "idle";
    root.dataset.progress = String(done);
  }

  function drawPictures() {
    const shape = model.get("_shape") || {}, view = model.get("_pictures"), chans = shape.channels || [];
    const side = shape.size || 0, n = chans.length, each = side * side * 3;
    const bytes = bytesOf(view);
    if (bytes.length !== n * each) return;
    while (ui.grid.children.length > n) ui.grid.lastChild.remove();
    while (ui.grid.children.length < n) {
      const fig = document.createElement("figure");
      fig.className = "aw-fv-item";
      fig.append(document.createElement("canvas"), document.createElement("figcaption"));
      fig.addEventListener("click", () => send("selected", +fig.dataset.channel));
      ui.grid.append(fig);
    }
    chans.forEach((c, i) => {
      const fig = ui.grid.children[i];
      fig.dataset.channel = String(c);
      fig.lastChild.textContent = "channel " + c;
      putRGB(fig.firstChild, bytes, side, side, i * each);
    });
    const items = chans.filter((c, i) => chans.indexOf(c) === i);
    const labels = Array.from(ui.selected.options, (o) => o.value).join(",");
    if (labels !== items.join(",")) ui.selected.replaceChildren(...items.map((c) => new Option("channel " + c, String(c))));
    const k = chans.indexOf(model.get("selected"));
    ui.selected.value = k >= 0 ? String(chans[k]) : "";
    ui.grid.querySelectorAll(".aw-fv-item").forEach((f) => f.classList.toggle("aw-fv-chosen", +f.dataset.channel === model.get("selected")));
    ui.big.hidden = k < 0;
    if (k >= 0) {
      putRGB(ui.big, bytes, side, side, k * each);
      ui.big.style.width = side * Math.max(1, Math.ceil(320 / side)) + "px";
      ui.big.setAttribute("aria-label", "channel " + chans[k] + " of " + shape.layer + ", enlarged");
    }
    root.dataset.shown = n ? [shape.layer, chans.join(","), shape.done, model.get("selected")].join("|") : "";
    root.dataset.version = String(++version);
  }

  function send(name, value) {  // the kernel checks it; a bad value snaps back with a message
    model.set(name, value);
    model.save_changes();
  }

  const number = (input, name) => input.addEventListener("change", () => {
    const v = Number(input.value);
    if (Number.isInteger(v)) send(name, v);
    else { showError(ui.error, name + " is a whole number; got " + JSON.stringify(input.value)); syncControls(); }
  });
  ui.layer.addEventListener("change", () => send("layer", ui.layer.value));
  ui.channels.addEventListener("change", () => send("channels", ui.channels.value));
  onToggle(ui.method, (v) => send("method", v));
  number(ui.steps, "steps");
  number(ui.size, "size");
  ui.selected.addEventListener("change", () => send("selected", +ui.selected.value));
  ui.run.addEventListener("click", () => { ui.run.disabled = true; model.send({event: "run"}); });
  ui.stop.addEventListener("click", () => { ui.stop.disabled = true; model.send({event: "stop"}); });

  const pictures = () => { picturesChanged = true; };  // one message may change several keys: draw once
  const read = {_meta: () => { readMeta(); pictures(); }, _pictures: pictures, _shape: pictures, selected: pictures};
  ["layer", "method", "running", "progress", "_problem", "_stopping", "_status", "_outcome"].forEach((k) => { read[k] = () => {}; });
  ["channels", "steps", "size"].forEach((k) => { read[k] = () => { changed.add(k); }; });
  return runPage(model, {error: ui.error, read: read, first: [readMeta], sync: syncControls,
    draw: () => { if (picturesChanged) drawPictures(); picturesChanged = false; }});
}

const featureVisualizer = {render: fvRender};
export default featureVisualizer;
