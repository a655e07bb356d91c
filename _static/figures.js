// Figures on a narrow screen (a phone): legible, not shrunk to the column.
//
// The book's figures are at most 6.4 in wide with 9-point text or larger
// (hmmrisk.plotting); fitted into a phone's ~350 px column that text would be
// 5 px high.  Where the column is narrower than 3/4 of a figure's natural
// width, the figure is kept at that width (its smallest text then 9 CSS px
// or more) and scrolls sideways inside a box of its own; its caption stays in
// the column.  tests/test_browser.py checks the result at 390 px.
(function () {
  "use strict";
  var MIN_SCALE = 0.76;

  function box(img) {
    var target = img.parentElement && img.parentElement.matches("a.image-reference")
      ? img.parentElement : img;
    var wrap = target.parentElement;
    if (!wrap.classList.contains("hmmrisk-figure-scroll")) {
      wrap = document.createElement("div");
      wrap.className = "hmmrisk-figure-scroll";
      target.parentElement.insertBefore(wrap, target);
      wrap.appendChild(target);
    }
    return wrap;
  }

  function fit(img) {
    // an SVG's natural width is in CSS px; a PNG's is in image px (2 per CSS px): left alone
    if (!img.naturalWidth || !/\.svg($|\?)/.test(img.currentSrc || img.src)) { return; }
    var wrap = img.closest(".hmmrisk-figure-scroll");
    var container = img.closest("figure, .cell_output, .output") || img.parentElement;
    var column = container.clientWidth;
    var least = Math.round(img.naturalWidth * MIN_SCALE);
    if (column > 0 && column < least) {
      box(img);
      img.style.width = least + "px";
      img.style.maxWidth = "none";
    } else if (wrap) {
      img.style.width = "";
      img.style.maxWidth = "";
    }
  }

  // A figure that holds a raster image (a colour map: the phase diagram) keeps
  // its colours in dark mode (its caption names them); line figures are
  // inverted (custom.css).  The SVG is on the same site, in the browser's cache.
  function markColourMaps(img) {
    var src = img.currentSrc || img.src;
    if (!/\.svg($|\?)/.test(src) || !window.fetch) { return; }
    fetch(src).then(function (r) { return r.ok ? r.text() : ""; }).then(function (text) {
      if (text.indexOf("<image") >= 0) { img.classList.add("hmmrisk-colour-map"); }
    }).catch(function () {});
  }

  function all() {
    document.querySelectorAll("figure img, .cell_output img").forEach(function (img) {
      if (!img.dataset.hmmriskSeen) { img.dataset.hmmriskSeen = "1"; markColourMaps(img); }
      if (img.complete) { fit(img); } else { img.addEventListener("load", function () { fit(img); }); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", all);
  } else {
    all();
  }
  var pending = null;
  window.addEventListener("resize", function () {
    clearTimeout(pending);
    pending = setTimeout(all, 150);
  });
})();
