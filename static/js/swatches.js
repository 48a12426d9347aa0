// Paints each calendar's colour swatch from its data-color attribute (no inline styles: CSP).
(function () {
  "use strict";
  var valid = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll(".swatch[data-color]").forEach(function (swatch) {
    var color = swatch.getAttribute("data-color");
    if (valid.test(color)) swatch.style.backgroundColor = color;
  });
})();
