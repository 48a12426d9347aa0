// On a first visit, show times in the browser's own zone and clock; the page works without this,
// in the host's zone, and the zone can be switched by hand either way.
(function () {
  "use strict";
  // Only pages that show times; elsewhere a reload would swallow the page's one-off messages.
  if (!document.querySelector(".booking-picker__settings")) return;
  var params = new URLSearchParams(window.location.search);
  if (params.has("tz")) return;
  var options;
  try {
    options = Intl.DateTimeFormat(undefined, { hour: "numeric" }).resolvedOptions();
  } catch (error) {
    return;
  }
  if (!options.timeZone) return;
  params.set("tz", options.timeZone);
  params.set("clock", options.hour12 || options.hourCycle === "h12" || options.hourCycle === "h11" ? "12" : "24");
  window.location.replace(window.location.pathname + "?" + params.toString());
})();
