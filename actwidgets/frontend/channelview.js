/* actwidgets ChannelView: one channel three ways (after draw.js and controls.js). The
   state is the widget's traits (layer, stage, channel, image), set from Python (or by an
   explorer it follows); `_panel` says what is shown, `_patches` holds the top patches as raw
   RGB bytes (sizes in `_panel`), `_act` the channel's 8-bit levels at the layer's size (resized,
   colour-mapped and blended over `_picture` here, as the explorer's overlay), `_fv_picture` the
   feature visualisation's RGB bytes and `_fv_run` the drawing under way. The buttons send
   {event: "visualise"} and {event: "stop"}. */
const CV_TEMPLATE = `
<p class="aw-banner" hidden></p>
<p class="aw-cv-title"></p>
<div class="aw-cv-panels">
  <figure class="aw-cv-panel"><figcaption>top patches of the collection</figcaption>
    <canvas class="aw-cv-patches" role="img"></canvas><p class="aw-cv-note aw-cv-patch-note"></p></figure>
  <figure class="aw-cv-panel"><figcaption>feature visualisation</figcaption>
    <canvas class="aw-cv-fv" role="img" aria-label="feature visualisation"></canvas>
    <div class="aw-cv-row"><button type="button" class="aw-cv-visualise" title="Draw the picture this channel responds to most">visualise</button>
      <button type="button" class="aw-cv-stop" title="End the drawing after the current step, keeping the picture so far">■ stop</button>
      <progress class="aw-cv-progress" value="0" max="1" hidden></progress></div>
    <p class="aw-cv-note aw-cv-fv-note"></p></figure>
  <figure class="aw-cv-panel"><figcaption>on the image</figcaption>
    <canvas class="aw-cv-act" role="img"></canvas><p class="aw-cv-note aw-cv-act-note"></p></figure>
</div>
<p class="aw-error" role="alert" hidden></p>`;

function cvRender({model, el}) {
  const {root, ui} = mount(el, "aw-channelview", CV_TEMPLATE, ["banner", "cv-title", "cv-patches", "cv-patch-note",
    "cv-fv", "cv-visualise", "cv-stop", "cv-progress", "cv-fv-note", "cv-act", "cv-act-note", "error"], "cv-");
  let version = 0;

  function drawPatches(meta, panel) {
    const side = meta.side, pad = 2, n = panel.patches.length, bytes = bytesOf(model.get("_patches"));
    const canvas = ui.patches, ctx = canvas.getContext("2d");
    canvas.hidden = n === 0;
    if (!n) return;
    canvas.width = n * (side + pad) + pad;  // as actwidgets.pixels.imtile(padding=2): white between
    canvas.height = side + 2 * pad;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.imageSmoothingEnabled = false;
    let offset = 0;
    panel.patches.forEach((p, i) => {  // grown by whole pixels, centred in its square
      const tile = putRGB(document.createElement("canvas"), bytes, p.h, p.w, offset);
      const k = Math.max(1, Math.floor(side / Math.max(p.w, p.h))), w = p.w * k, h = p.h * k;
      ctx.drawImage(tile, pad + i * (side + pad) + Math.floor((side - w) / 2), pad + Math.floor((side - h) / 2), w, h);
      offset += p.h * p.w * 3;
    });
    canvas.setAttribute("aria-label", "the " + n + " patches of the collection that make channel " + panel.channel + " fire most");
  }

  function drawActivation(meta, panel) {
    const [H, W] = meta.net.input, rgb = bytesOf(model.get("_picture")), lev = bytesOf(model.get("_act")), a = panel.act;
    if (rgb.length !== H * W * 3 || lev.length !== a.h * a.w) return false;
    const data = {shape: [1, a.h, a.w], cols: 1, width: a.w};  // one channel, as draw.js reads a layer
    const big = channelLevels(data, lev, 0, [H, W], true, false);
    const im = new ImageData(W, H);
    paintOverlay(im, big, rgb, rgbTable(meta.cmaps, meta.cmap, "lut"), meta.alpha);
    ui.act.width = W;
    ui.act.height = H;
    ui.act.getContext("2d").putImageData(im, 0, 0);
    ui.act.setAttribute("aria-label", "channel " + panel.channel + " over the image " + panel.image);
    ui.actNote.textContent = panel.image + ": max " + a.max + ", mean " + a.mean;
    return true;
  }

  function drawFV(panel) {
    const fv = panel.fv, bytes = bytesOf(model.get("_fv_picture"));
    ui.fv.hidden = !fv || bytes.length !== fv.side * fv.side * 3;
    if (!ui.fv.hidden) putRGB(ui.fv, bytes, fv.side, fv.side);
  }

  function showRun(panel) {
    const run = model.get("_fv_run") || {}, here = !!run.key && run.key.join("|") === [panel.layer, panel.stage, panel.channel].join("|");
    ui.visualise.disabled = !!run.running || !!panel.fv;
    ui.stop.hidden = !run.running;
    ui.stop.disabled = !!run.stopping;
    ui.progress.hidden = !run.running;
    ui.progress.max = Math.max(1, run.total || 1);
    ui.progress.value = run.done || 0;
    let note = "";
    if (run.running) {
      note = (run.stopping ? "stopping after the current step… " : "drawing: ") + "step " + (run.done || 0) + " of " + run.total +
        (here ? "" : " (channel " + run.key[2] + " of " + run.key[0] + ")");
    } else if (panel.fv && panel.fv.done < panel.fv.steps) {
      note = "stopped after " + panel.fv.done + " of " + panel.fv.steps + " steps";
    } else if (!panel.fv) {
      note = "press visualise: a few seconds, in the background";
    }
    ui.fvNote.textContent = note;
    root.dataset.run = run.running ? (run.stopping ? "stopping" : "running") : "idle";
    root.dataset.step = String(run.done || 0);
  }

  function draw() {
    const meta = model.get("_meta"), panel = model.get("_panel");
    if (!meta || !meta.net || !panel || !panel.act) return;
    showBanner(ui.banner, meta.net);
    const title = document.createElement("b");
    title.textContent = panel.layer + (panel.stages ? " (" + panel.stage + "-ReLU)" : "") + ", channel " + panel.channel;
    ui.title.replaceChildren(title);
    drawPatches(meta, panel);
    ui.patchNote.textContent = panel.patches.length
      ? panel.patches.map((p, i) => (i + 1) + ": image " + p.index + ", " + p.score).join(" · ")
      : panel.layer + " is not in the atlas (its layers: " + panel.atlas.join(", ") + ")";
    drawFV(panel);
    showRun(panel);
    if (!drawActivation(meta, panel)) return;
    root.dataset.shown = [panel.layer, panel.stage, panel.channel, panel.image].join("|");
    root.dataset.version = String(++version);
  }

  const onRun = () => { const panel = model.get("_panel"); if (panel && panel.act) showRun(panel); };
  ui.visualise.addEventListener("click", () => { ui.visualise.disabled = true; model.send({event: "visualise"}); });
  ui.stop.addEventListener("click", () => { ui.stop.disabled = true; model.send({event: "stop"}); });
  const read = {};
  ["_meta", "_panel", "_patches", "_act", "_picture", "_fv_picture"].forEach((k) => { read[k] = () => {}; });
  return runPage(model, {error: ui.error, draw: draw, read: read, now: {_fv_run: onRun}});  // one draw per message
}

const channelView = {render: cvRender};
export default channelView;
