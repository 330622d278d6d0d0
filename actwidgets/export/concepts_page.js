/* The exported concept page (after shim.js): where the kernel would send an image's maps and
   pixels, this decodes them from the page (base64 levels, a PNG data URI). */
function conceptsFollow() {
  let asked = "";
  return async (state, put) => {  // what the kernel does when the image changes
    if (state.image === asked) return;
    const name = asked = state.image, img = D.images[D.meta.images.indexOf(name)];
    const picture = await rgbOf(img.picture), bin = atob(img.maps), maps = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) maps[i] = bin.charCodeAt(i);
    if (name !== asked) return;  // the newest request wins
    put({_picture: new DataView(picture.buffer), _maps: new DataView(maps.buffer),
      _image: {image: name, shape: img.shape, serial: name}, _message: ""});
  };
}

const pageModel = staticModel(Object.assign({_meta: D.meta, _image: {}, _maps: null, _picture: null, _fv: D.fv, _message: ""},
  D.initial), conceptsFollow());
showPage(conceptView, pageModel, "aw-concepts-view", "awConcepts");
pageModel.follow();
