// Search results as text, not TeX.
//
// Sphinx's search page shows, under each hit, a snippet of the page's text,
// taken from the page's HTML as fetched (Search.htmlToText).  There the
// formulas are still the TeX that MathJax typesets in the browser
// ("\(\operatorname{tr}\Sigma_r\)"), so a snippet read "\(\sigma^2\)".  Each
// formula of the fetched page is turned into plain text first ("σ^2"), by the
// rules of the figures' alt texts (tools/sphinx_fixes.py: tex_to_text; it
// hands them to this script as window.HMMRISK_TEX).
(function () {
  "use strict";
  var rules = window.HMMRISK_TEX;
  if (!rules) return;
  var spacing = new RegExp(rules.spacing, "g");
  var wrappers = new RegExp(rules.wrappers, "g");
  var command = new RegExp(rules.command, "g");
  var frac = new RegExp(rules.frac, "g");

  function plain(tex) {
    var text = tex.trim().replace(/^\\[(\[]/, "").replace(/\\[)\]]$/, "");
    text = text.replace(spacing, " ").replace(wrappers, "").replace(frac, "($1)/($2)");
    text = text.replace(command, function (_, name, space) {
      var word = Object.prototype.hasOwnProperty.call(rules.words, name) ? rules.words[name] : name;
      return word + (space ? " " : "");
    });
    return text.replace(/[{}\\]/g, "").replace(/\s+/g, " ").trim();
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof Search === "undefined" || !Search.htmlToText) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc.querySelectorAll(".math").forEach(function (el) { el.textContent = plain(el.textContent); });
      return original(doc.documentElement.outerHTML, anchor);
    };
  });
})();
