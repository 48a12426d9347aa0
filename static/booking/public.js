// The public booking pages, a little smoother; every one of them works without this script.
// - On a first visit, times are shown in the browser's own zone and clock.
// - Changing the zone or the clock shows the times at once: the parts of the page that depend on
//   them are fetched again and swapped in place (the address follows, so it can be shared), and
//   the focus stays where it was. Without JavaScript the "Show times" button does the same.
// - What the attendee types in the booking form is kept in this tab (sessionStorage) until they
//   have booked, so that going back to pick another time loses none of it.
// - A sentence the page has for screen readers (#announcer's data-announce) is said once shown.
(function () {
  "use strict";

  var TYPED_PREFIX = "booking-typed:";

  // Only pages that show times; elsewhere a reload would swallow the page's one-off messages.
  function showInBrowserZone() {
    if (!document.querySelector(".booking-picker__settings")) return false;
    var params = new URLSearchParams(window.location.search);
    if (params.has("tz")) return false;
    var options;
    try {
      options = Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions();
    } catch (error) {
      return false;
    }
    if (!options.timeZone) return false;
    params.set("tz", options.timeZone);
    params.set("clock", options.hour12 || options.hourCycle === "h12" || options.hourCycle === "h11" ? "12" : "24");
    window.location.replace(window.location.pathname + "?" + params.toString());
    return true;
  }

  // Said by screen readers, politely: the region's text changes a moment after it is emptied.
  function announce(text) {
    var region = document.getElementById("announcer");
    if (!region || !text) return;
    region.textContent = "";
    window.setTimeout(function () {
      region.textContent = text;
    }, 150);
  }

  function instantTimes() {
    var form = document.querySelector("[data-picker-settings]");
    if (!form || !window.fetch || !window.DOMParser || !window.AbortController) return;
    var button = form.querySelector("[data-picker-submit]");
    if (button) button.hidden = true;
    var timer = null;
    var running = null;

    function refresh() {
      var url = window.location.pathname + "?" + new URLSearchParams(new FormData(form)).toString();
      if (running) running.abort();
      running = new AbortController();
      fetch(url, { signal: running.signal, credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.text();
        })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          var said = swapParts(fresh);
          copyHiddenFields(fresh.querySelector("[data-picker-settings]"));
          window.history.replaceState(null, "", url);
          announce(said);
        })
        .catch(function (error) {
          // Whatever went wrong, the page itself can show the times: go there.
          if (error.name !== "AbortError") window.location.assign(url);
        });
    }

    form.addEventListener("change", function () {
      // Arrow keys on the zone list change it once a key press: ask once they rest.
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(timer);
      refresh();
    });
  }

  // Replaces each [data-picker-part] with its fresh copy; returns what the times part says.
  function swapParts(fresh) {
    var said = "";
    document.querySelectorAll("[data-picker-part]").forEach(function (part) {
      var name = part.getAttribute("data-picker-part");
      var replacement = fresh.querySelector('[data-picker-part="' + name + '"]');
      if (!replacement) return;
      part.replaceWith(document.importNode(replacement, true));
      if (replacement.hasAttribute("data-picker-announce")) said = replacement.getAttribute("data-picker-announce");
    });
    return said;
  }

  // The month and chosen day the fresh page settled on, for the next change to keep.
  function copyHiddenFields(freshForm) {
    var form = document.querySelector("[data-picker-settings]");
    if (!freshForm || !form) return;
    form.querySelectorAll('input[type="hidden"]').forEach(function (input) {
      input.remove();
    });
    freshForm.querySelectorAll('input[type="hidden"]').forEach(function (input) {
      form.prepend(document.importNode(input, true));
    });
  }

  function storage() {
    try {
      return window.sessionStorage;
    } catch (error) {
      return null;
    }
  }

  function keepTyped() {
    var store = storage();
    if (!store) return;
    if (document.querySelector("[data-forget-typed]")) {
      Object.keys(store).forEach(function (key) {
        if (key.indexOf(TYPED_PREFIX) === 0) store.removeItem(key);
      });
      return;
    }
    var form = document.querySelector("form[data-keep-typed]");
    if (!form) return;
    var key = TYPED_PREFIX + window.location.pathname;
    var fields = form.querySelectorAll('input[type="text"], input[type="email"], textarea');
    var kept = {};
    try {
      kept = JSON.parse(store.getItem(key) || "{}");
    } catch (error) {
      kept = {};
    }
    fields.forEach(function (field) {
      if (!field.value && typeof kept[field.name] === "string") field.value = kept[field.name];
    });
    form.addEventListener("input", function () {
      var typed = {};
      fields.forEach(function (field) {
        if (field.value) typed[field.name] = field.value;
      });
      try {
        store.setItem(key, JSON.stringify(typed));
      } catch (error) {
        // A full or refused storage only means nothing is kept.
      }
    });
  }

  if (showInBrowserZone()) return;
  instantTimes();
  keepTyped();
  var errors = document.getElementById("form-errors");
  if (errors) errors.focus();
  var region = document.getElementById("announcer");
  if (region) announce(region.getAttribute("data-announce"));
})();
