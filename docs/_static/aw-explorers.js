// A static explorer page in an <iframe class="aw-static-page"> posts its height; fit the frame.
window.addEventListener("message", function (e) {
  if (!e.data || !e.data.awStaticHeight) return;
  document.querySelectorAll("iframe.aw-static-page").forEach(function (f) {
    if (f.contentWindow === e.source) f.style.height = e.data.awStaticHeight + "px";
  });
});
