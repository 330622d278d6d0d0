/* actwidgets pages, part 1: the pictures, drawn as actwidgets.pixels draws them (every page).
   A layer arrives as 8-bit levels (one sprite sheet per contrast: every channel's tile, row by
   row, as actwidgets.export.size.sheet lays them out); colours come from 256-entry tables
   (the grid's: 254 colours + padding + outline); the channel view and the overlay resize a
   channel as Pillow's bilinear filter does. controls.js and the page's own file follow in the same module. */
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function b64bytes(b64) {
  const bin = atob(b64), out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toLevel(v) {  // values in [0, 1] to levels 0..255 as actwidgets.pixels.to_levels
  return Math.min(255, Math.max(0, Math.floor(Math.min(Math.max(v, 0), 1) * 255 + 0.5)));
}

function rgba32(r, g, b) {
  return (LE ? ((255 << 24) | (b << 16) | (g << 8) | r) : ((r << 24) | (g << 16) | (b << 8) | 255)) >>> 0;
}

const tableCache = new Map();
function rgbTable(cmaps, name, which) {  // (r, g, b) bytes of colormap `name`: "lut" or "grid"
  const key = "b" + name + ":" + which;
  if (!tableCache.has(key)) tableCache.set(key, b64bytes(cmaps[name][which]));
  return tableCache.get(key);
}
function wordTable(cmaps, name, which) {  // the same as packed RGBA words
  const key = "w" + name + ":" + which;
  if (!tableCache.has(key)) {
    const b = rgbTable(cmaps, name, which), out = new Uint32Array(256);
    for (let i = 0; i < b.length / 3; i++) out[i] = rgba32(b[3 * i], b[3 * i + 1], b[3 * i + 2]);
    tableCache.set(key, out);
  }
  return tableCache.get(key);
}

/* A layer's payload: `meta` (shape, cols, sheet size, contrasts, grid, stats) and the bytes:
   each contrast's sheet, then one float32 per channel (its largest value). */
function unpack(meta, view) {
  const [rows, width] = meta.sheet, n = rows * width, levels = {};
  const base = view.byteOffset, buf = view.buffer;
  meta.contrasts.forEach((c, k) => { levels[c] = new Uint8Array(buf, base + k * n, n); });
  const off = base + meta.contrasts.length * n, C = meta.shape[0];
  const values = new Float32Array(buf.slice(off, off + 4 * C));
  return Object.assign({}, meta, {levels: levels, width: width, values: values});
}

function bytesOf(view) {  // a DataView from the model (or nothing) as bytes
  return view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : new Uint8Array(0);
}

function putRGB(canvas, bytes, H, W, offset) {  // (H, W, 3) RGB bytes from `offset` on a canvas of that size
  const im = new ImageData(W, H), px = im.data;
  for (let i = 0, p = 0, o = offset || 0; i < H * W; i++, p += 4, o += 3) {
    px[p] = bytes[o];
    px[p + 1] = bytes[o + 1];
    px[p + 2] = bytes[o + 2];
    px[p + 3] = 255;
  }
  if (canvas.width !== W) canvas.width = W;
  if (canvas.height !== H) canvas.height = H;
  canvas.getContext("2d").putImageData(im, 0, 0);
  return canvas;
}

// ------------------------------------------------------------------ the grid
function gridBase(data, contrast, colours) {  // every tile at its scale, no outline: a canvas
  const [C, th, tw] = data.shape, [, cols, scale, pad, H, W] = data.grid, lev = data.levels[contrast];
  const im = new ImageData(W, H), out = new Uint32Array(im.data.buffer);
  out.fill(colours[254]);  // padding and empty cells
  for (let c = 0; c < C; c++) {
    const sx = (c % cols) * tw, sy = Math.floor(c / cols) * th;
    const x0 = pad + (c % cols) * (tw * scale + pad), y0 = pad + Math.floor(c / cols) * (th * scale + pad);
    for (let y = 0; y < th * scale; y++) {
      const src = (sy + Math.floor(y / scale)) * data.width + sx, dst = (y0 + y) * W + x0;
      for (let x = 0; x < tw * scale; x++) out[dst + x] = colours[lev[src + Math.floor(x / scale)]];
    }
  }
  const canvas = document.createElement("canvas");
  canvas.width = W;
  canvas.height = H;
  canvas.getContext("2d").putImageData(im, 0, 0);
  return canvas;
}

function tileBox(data, c) {  // (x0, y0, x1, y1) of tile c, as GridLayout.box
  const [, th, tw] = data.shape, [, cols, scale, pad] = data.grid;
  const x0 = pad + (c % cols) * (tw * scale + pad), y0 = pad + Math.floor(c / cols) * (th * scale + pad);
  return [x0, y0, x0 + tw * scale, y0 + th * scale];
}

function tileAt(data, x, y) {  // the channel whose tile holds grid pixel (x, y), or -1
  const [C, th, tw] = data.shape, [rows, cols, scale, pad] = data.grid;
  const col = Math.floor((x - pad) / (tw * scale + pad)), row = Math.floor((y - pad) / (th * scale + pad));
  const c = row * cols + col;
  return col >= 0 && row >= 0 && col < cols && row < rows && c < C ? c : -1;
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

function drawGrid(ctx, base, data, channel, outline) {
  const [, , , pad, H, W] = data.grid;
  ctx.drawImage(base, 0, 0);
  ctx.fillStyle = "rgb(" + outline.join(",") + ")";
  ring(ctx, tileBox(data, channel), W, H, 2, Math.min(pad, 2));
}

// ------------------------------------------------------------------ channel and overlay
const coeffCache = new Map();
function coeffs(n, m) {  // Pillow's bilinear (triangle) filter from n to m samples
  const key = n + ">" + m;
  if (coeffCache.has(key)) return coeffCache.get(key);
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
  coeffCache.set(key, table);
  return table;
}

function quantiles(values) {  // np.quantile(values, [0.01, 0.99]) (linear); min and max where they meet
  const a = Float64Array.from(values).sort(), n = a.length;
  const at = (q) => { const x = q * (n - 1), i = Math.floor(x); return i + 1 < n ? a[i] + (a[i + 1] - a[i]) * (x - i) : a[i]; };
  const lo = at(0.01), hi = at(0.99);
  return lo < hi ? [lo, hi] : [a[0], a[n - 1]];
}

const scratchCache = {};
function scratch(name, n, Type) {  // reused work arrays: no garbage per flip
  if (!scratchCache[name] || scratchCache[name].length < n) scratchCache[name] = new Type(n);
  return scratchCache[name].subarray(0, n);
}

function tileOf(data, lev, c) {  // channel c's levels as floats
  const [, th, tw] = data.shape, sx = (c % data.cols) * tw, sy = Math.floor(c / data.cols) * th;
  const out = scratch("tile", th * tw, Float64Array);
  for (let y = 0; y < th; y++) for (let x = 0; x < tw; x++) out[y * tw + x] = lev[(sy + y) * data.width + sx + x];
  return out;
}

function resized(small, th, tw, H, W) {  // Pillow's bilinear resize of a (th, tw) map to (H, W)
  const cx = coeffs(tw, W), cy = coeffs(th, H);
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

function channelLevels(data, lev, c, size, overlay, stretch) {
  // The channel view: resize, then scale (min-max, or the 1 % and 99 % quantiles).
  // The overlay: clip the channel to its quantiles (percentile contrast), resize, min-max.
  const [, th, tw] = data.shape, [H, W] = size, small = tileOf(data, lev, c);
  if (overlay && stretch) {
    const [lo, hi] = quantiles(small);
    for (let i = 0; i < small.length; i++) small[i] = Math.min(Math.max(small[i], lo), hi);
  }
  const big = resized(small, th, tw, H, W);
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < big.length; i++) { if (big[i] < lo) lo = big[i]; if (big[i] > hi) hi = big[i]; }
  if (stretch && !overlay) [lo, hi] = quantiles(big);
  const out = scratch("levels", big.length, Uint8Array), span = hi > lo ? hi - lo : 1;
  for (let i = 0; i < out.length; i++) out[i] = Math.min(255, Math.max(0, Math.floor(((big[i] - lo) / span) * 255 + 0.5)));
  return out;
}

function paintChannel(im, lev, colours) {
  const out = new Uint32Array(im.data.buffer);
  for (let i = 0; i < lev.length; i++) out[i] = colours[lev[i]];
}

function paintOverlay(im, lev, rgb, table, a) {  // (1 - alpha) * image + alpha * colours, rounded
  const px = im.data;
  for (let i = 0, p = 0, q = 0; i < lev.length; i++, p += 4, q += 3) {
    for (let j = 0; j < 3; j++) px[p + j] = Math.min(255, Math.floor(rgb[q + j] * (1 - a) + table[3 * lev[i] + j] * a + 0.5));
    px[p + 3] = 255;
  }
}

// ------------------------------------------------------------------ bars for 1x1 maps
function paintBars(values, selected, outline, height, width) {
  // actwidgets.widgets._parts.value_bars: bars from the zero line, the selected one in the
  // outline colour on a light band, so it can be found among a thousand.
  const n = values.length, k = Math.max(1, Math.floor(width / n)), W = n * k;
  let lo = 0, hi = 0;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const span = hi - lo || 1, zero = Math.round((hi / span) * (height - 1));
  const index = new Uint8Array(height * W);
  for (let c = 0; c < n; c++) {
    const end = Math.round(((hi - values[c]) / span) * (height - 1));
    for (let y = Math.min(end, zero); y <= Math.max(end, zero); y++) index.fill(1, y * W + c * k, y * W + c * k + k);
  }
  const pad = k >= 5 ? 0 : 2, x0 = selected * k, x1 = x0 + k;
  for (let y = 0; y < height; y++) {
    for (let x = Math.max(0, x0 - pad); x < Math.min(W, x1 + pad); x++) {
      const i = y * W + x;
      if (index[i] === 0) index[i] = 2;
      else if (index[i] === 1 && x >= x0 && x < x1) index[i] = 3;
    }
  }
  for (let x = 0; x < W; x++) if (index[zero * W + x] !== 3) index[zero * W + x] = 4;
  const colours = [[255, 255, 255], [90, 110, 140], [255, 214, 196], outline, [0, 0, 0]].map((c) => rgba32(c[0], c[1], c[2]));
  const im = new ImageData(W, height), out = new Uint32Array(im.data.buffer);
  for (let i = 0; i < index.length; i++) out[i] = colours[index[i]];
  return im;
}
