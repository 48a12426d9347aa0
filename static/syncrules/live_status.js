// Keeps a page's sync status current while a sync is queued or running, without a reload.
// The page names the status address in [data-live-status] and says whether a sync is under way;
// the answer is {active, parts: {element id: HTML}}, rendered by the templates the page itself
// includes. Polling slows down as it goes and stops once nothing is under way (or after a while).
(function () {
  "use strict";
  var marker = document.querySelector("[data-live-status]");
  if (!marker || !window.fetch) return;
  var url = marker.getAttribute("data-live-status");
  var delay = 1000;
  var deadline = Date.now() + 5 * 60 * 1000;

  function update(answer) {
    Object.keys(answer.parts || {}).forEach(function (id) {
      var element = document.getElementById(id);
      if (element && element.innerHTML !== answer.parts[id]) element.innerHTML = answer.parts[id];
    });
    if (answer.active && Date.now() < deadline) schedule();
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(update)
      .catch(function () {
        // The next look is one reload away; nothing on the page is wrong meanwhile.
      });
  }

  function schedule() {
    window.setTimeout(poll, delay);
    delay = Math.min(delay * 1.5, 5000);
  }

  if (marker.getAttribute("data-active") === "true") schedule();
})();
