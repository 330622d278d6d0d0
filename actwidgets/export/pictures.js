/* actwidgets static explorer, part 1 of 2: the pictures. Decodes the 8-bit sprite sheets
   (greyscale PNG data URIs) and draws them as actwidgets.pixels does: colormap lookup tables of
   256 entries, the grid's layout and outline, Pillow's bilinear resize for the channel view and
   the overlay. Joined with page.js inside one function by the page template. */
const D = JSON.parse(document.getElementById("aw-data").textContent);
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// ------------------------------------------------------------------ data
function bytes(b64) {
  const bin = atob(b64), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function rgba32(r, g, b) {
  return (LE ? ((255 << 24) | (b << 16) | (g << 8) | r) : ((r << 24) | (g << 16) | (b << 8) | 255)) >>> 0;
}

const luts = {};
function table(name, which) {  // (r, g, b) bytes: "lut", 256 colours; "grid", 254 + padding + outline
  const key = "b" + name + ":" + (which || "lut");
  if (!luts[key]) luts[key] = bytes(D.cmaps[name][which || "lut"]);
  return luts[key];
}
function lut(name, which) {  // the same as packed RGBA words, for Uint32Array pictures
  const key = name + ":" + which;
  if (!luts[key]) {
    const b = table(name, which), out = new Uint32Array(256);
    for (let i = 0; i < b.length / 3; i++) out[i] = rgba32(b[3 * i], b[3 * i + 1], b[3 * i + 2]);
    luts[key] = out;
  }
  return luts[key];
}

async function decode(uri) {  // a PNG data URI -> ImageData, no colour conversion
  const blob = new Blob([bytes(uri.slice(uri.indexOf(",") + 1))], {type: "image/png"});
  let src;
  if (window.createImageBitmap) {
    src = await createImageBitmap(blob, {colorSpaceConversion: "none", premultiplyAlpha: "none"});
  } else {
    src = new Image();
    src.src = uri;
    await src.decode();
  }
  const c = document.createElement("canvas");
  c.width = src.width;
  c.height = src.height;
  const ctx = c.getContext("2d", {willReadFrequently: true});
  ctx.drawImage(src, 0, 0);
  return ctx.getImageData(0, 0, c.width, c.height);
}

const loaded = new Map(), pending = new Map();
function load(key, uri, convert) {
  if (loaded.has(key)) return Promise.resolve(loaded.get(key));
  if (!pending.has(key)) {
    pending.set(key, decode(uri).then((im) => {
      const value = convert(im);
      loaded.set(key, value);
      pending.delete(key);
      return value;
    }));
  }
  return pending.get(key);
}

function sheetKey(img, point, contrast) { return "s" + img + "|" + point + "|" + contrast; }
function loadSheet(img, point, contrast) {
  const uri = D.sheets[img][point][D.contrasts.indexOf(contrast)];
  return load(sheetKey(img, point, contrast), uri, (im) => {
    const lev = new Uint8Array(im.width * im.height);
    for (let i = 0; i < lev.length; i++) lev[i] = im.data[4 * i];
    return {w: im.width, lev: lev};
  });
}
function loadPicture(img) { return load("p" + img, D.images[img].src, (im) => im); }


// ------------------------------------------------------------------ the grid
const bases = new Map();  // grid pictures without the outline, by image|point|contrast|cmap
function gridBase(sh, P, L) {
  const key = [S.image, point(), S.contrast, S.cmap].join("|");
  if (bases.has(key)) return bases.get(key);
  const [C, th, tw] = P.shape, [, cols, scale, pad, H, W] = L.grid;
  const colours = lut(S.cmap, "grid"), im = new ImageData(W, H), out = new Uint32Array(im.data.buffer);
  out.fill(colours[254]);  // padding and empty cells
  for (let c = 0; c < C; c++) {
    const sx = (c % cols) * tw, sy = Math.floor(c / cols) * th;
    const x0 = pad + (c % cols) * (tw * scale + pad), y0 = pad + Math.floor(c / cols) * (th * scale + pad);
    for (let y = 0; y < th * scale; y++) {
      const src = (sy + Math.floor(y / scale)) * sh.w + sx, dst = (y0 + y) * W + x0;
      for (let x = 0; x < tw * scale; x++) out[dst + x] = colours[sh.lev[src + Math.floor(x / scale)]];
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  canvas.getContext("2d").putImageData(im, 0, 0);
  if (bases.size >= 8) bases.delete(bases.keys().next().value);
  bases.set(key, canvas);
  return canvas;
}

function tileBox(c, P, L) {  // (x0, y0, x1, y1) of tile c, as GridLayout.box
  const [, th, tw] = P.shape, [, cols, scale, pad] = L.grid;
  const x0 = pad + (c % cols) * (tw * scale + pad), y0 = pad + Math.floor(c / cols) * (th * scale + pad);
  return [x0, y0, x0 + tw * scale, y0 + th * scale];
}

function ring(ctx, box, W, H, width, o) {  // actwidgets.pixels.tiles.outline
  const cl = (v, hi) => Math.min(Math.max(v, 0), hi);
  const [x0, y0, x1, y1] = box;
  const ox0 = cl(x0 - o, W), oy0 = cl(y0 - o, H), ox1 = cl(x1 + o, W), oy1 = cl(y1 + o, H);
  const ix0 = cl(x0 - o + width, ox1), iy0 = cl(y0 - o + width, oy1);
  const ix1 = Math.max(cl(x1 + o - width, W), ox0), iy1 = Math.max(cl(y1 + o - width, H), oy0);
  const rect = (x, y, w, h) => { if (w > 0 && h > 0) ctx.fillRect(x, y, w, h); };
  rect(ox0, oy0, ox1 - ox0, iy0 - oy0);
  rect(ox0, iy1, ox1 - ox0, oy1 - iy1);
  rect(ox0, oy0, ix0 - ox0, oy1 - oy0);
  rect(ix1, oy0, ox1 - ix1, oy1 - oy0);
}

function drawGrid(ctx, sh, P, L) {
  const [, , , pad, H, W] = L.grid;
  size(W, H);
  ctx.drawImage(gridBase(sh, P, L), 0, 0);
  ctx.fillStyle = "rgb(" + D.outline.join(",") + ")";
  ring(ctx, tileBox(S.channel, P, L), W, H, 2, Math.min(pad, 2));
}

// ------------------------------------------------------------------ channel and overlay
const tables = new Map();
function coeffs(n, m) {  // Pillow's bilinear (triangle) filter from n to m samples
  const key = n + ">" + m;
  if (tables.has(key)) return tables.get(key);
  const scale = n / m, fs = Math.max(scale, 1), support = fs, k = Math.ceil(support) * 2 + 1;
  const lo = new Int32Array(m), cnt = new Int32Array(m), w = new Float64Array(m * k);
  for (let x = 0; x < m; x++) {
    const center = (x + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), n) - xmin;
    let total = 0;
    for (let i = 0; i < xmax; i++) {
      const t = Math.abs((i + xmin - center + 0.5) / fs);
      w[x * k + i] = t < 1 ? 1 - t : 0;
      total += w[x * k + i];
    }
    for (let i = 0; i < xmax && total > 0; i++) w[x * k + i] /= total;
    lo[x] = xmin;
    cnt[x] = xmax;
  }
  const table = {lo: lo, cnt: cnt, w: w, k: k};
  tables.set(key, table);
  return table;
}

function quantiles(values) {  // np.quantile(values, [0.01, 0.99]) (linear), min and max where they meet
  const a = Float64Array.from(values).sort(), n = a.length;
  const at = (q) => { const x = q * (n - 1), i = Math.floor(x); return i + 1 < n ? a[i] + (a[i + 1] - a[i]) * (x - i) : a[i]; };
  const lo = at(0.01), hi = at(0.99);
  return lo < hi ? [lo, hi] : [a[0], a[n - 1]];
}

function tile(sh, P, c) {  // channel c's levels as floats
  const [, th, tw] = P.shape, sx = (c % P.cols) * tw, sy = Math.floor(c / P.cols) * th;
  const out = scratch("tile", th * tw, Float64Array);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[y * tw + x] = sh.lev[(sy + y) * sh.w + sx + x];
  return out;
}

const buffers = {};
function scratch(name, n, Type) {  // reused work arrays: no garbage per flip
  if (!buffers[name] || buffers[name].length < n) buffers[name] = new Type(n);
  return buffers[name].subarray(0, n);
}

function resized(small, th, tw) {  // Pillow's bilinear resize of a (th, tw) map to the input size
  const [H, W] = D.net.input, cx = coeffs(tw, W), cy = coeffs(th, H);
  const tmp = scratch("tmp", th * W, Float64Array), big = scratch("big", H * W, Float64Array);
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let i = 0; i < cx.cnt[x]; i++) s += cx.w[x * cx.k + i] * small[y * tw + cx.lo[x] + i];
      tmp[y * W + x] = s;
    }
  }
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let s = 0;
      for (let i = 0; i < cy.cnt[y]; i++) s += cy.w[y * cy.k + i] * tmp[(cy.lo[y] + i) * W + x];
      big[y * W + x] = s;
    }
  }
  return big;
}

function levels256(sh, P, c, overlay, stretch) {
  // The widget's channel view: resize, then scale (min-max, or the 1 % and 99 % quantiles).
  // Its overlay: clip the channel to its quantiles (percentile contrast), resize, min-max.
  const [, th, tw] = P.shape;
  let small = tile(sh, P, c);
  if (overlay && stretch) {
    const [lo, hi] = quantiles(small);
    for (let i = 0; i < small.length; i++) small[i] = Math.min(Math.max(small[i], lo), hi);
  }
  const big = resized(small, th, tw);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < big.length; i++) { if (big[i] < lo) lo = big[i]; if (big[i] > hi) hi = big[i]; }
  if (stretch && !overlay) [lo, hi] = quantiles(big);
  const out = scratch("levels", big.length, Uint8Array), span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, Math.floor(((big[i] - lo) / span) * 255 + 0.5)));
  return out;
}

let picture = null;  // the channel view's pixels, reused
function drawChannel(ctx, sh, P, overlay) {
  // From the min-max levels where they were exported (the percentile contrast is applied here).
  const [H, W] = D.net.input, lev = levels256(sh, P, S.channel, overlay, S.contrast === "stretch" && sheetContrast() !== "stretch");
  size(W, H);
  if (!picture || picture.width !== W || picture.height !== H) picture = new ImageData(W, H);
  const im = picture, out = new Uint32Array(im.data.buffer);
  if (!overlay) {
    const colours = lut(S.cmap, "lut");
    for (let i = 0; i < lev.length; i++) out[i] = colours[lev[i]];
  } else {  // actwidgets.pixels.overlay: (1 - alpha) * image + alpha * colours, rounded
    const tb = table(D.cmaps[S.cmap].overlay), pic = loaded.get("p" + S.image).data, a = D.alpha, px = im.data;
    for (let i = 0, p = 0; i < lev.length; i++, p += 4) {
      for (let j = 0; j < 3; j++) px[p + j] = Math.min(255, Math.floor(pic[p + j] * (1 - a) + tb[3 * lev[i] + j] * a + 0.5));
      px[p + 3] = 255;
    }
  }
  ctx.putImageData(im, 0, 0);
}
