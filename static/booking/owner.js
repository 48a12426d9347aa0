// Copy buttons next to public booking links: shown only where the browser can copy to the
// clipboard; without this script the link itself is there to select and copy.
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) return;
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(
        function () {
          button.textContent = button.dataset.copied || "Copied";
        },
        function () {
          button.textContent = button.dataset.copyFailed || "Select the link to copy it";
        }
      );
      window.setTimeout(function () {
        button.textContent = label;
      }, 2500);
    });
  });
})();
