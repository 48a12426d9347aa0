// A booking page shown in another site's frame (?embed=1), talking to the page around it, which
// runs our embed.js (booking/embed.py lists the messages):
// - it waits for "multical:hello" from the page around it, and from then on talks to that page's
//   origin only, as the browser reports it (event.origin): the browser delivers nothing to a page
//   of any other origin, whatever the frame's address claims. Before the hello nothing is said,
//   not even the height (harmless as it is): a page that framed us without our script has no use
//   for it, and "*" as a target would be the one exception to reason about;
// - "multical:resize" with the page's height whenever it changes (ResizeObserver), so that the
//   frame is as tall as its content and never scrolls on its own;
// - "multical:booked" once, on the confirmation, with the booking's public facts the page
//   rendered into #multical-booked (a JSON data block, never run as a script);
// - the name and e-mail address the hello brings fill the booking form's empty fields;
// - links that leave this page's booking flow (the booking's own page, a calendar, a meeting
//   link) open in a new tab rather than inside the frame, where most of them may not be shown.
// Which sites may frame the page at all is the server's to say (CSP frame-ancestors).
(function () {
  "use strict";

  if (window.parent === window) return;
  var host = null;
  var lastHeight = 0;
  var bookedSent = false;

  function say(message) {
    if (host) window.parent.postMessage(message, host);
  }

  function height() {
    return Math.ceil(document.body.getBoundingClientRect().height);
  }

  function sendHeight() {
    var now = height();
    if (now === lastHeight) return;
    lastHeight = now;
    say({ type: "multical:resize", height: now });
  }

  function sendBooked() {
    var data = document.getElementById("multical-booked");
    if (!data || bookedSent) return;
    var booking;
    try {
      booking = JSON.parse(data.textContent);
    } catch (error) {
      return;
    }
    bookedSent = true;
    say({ type: "multical:booked", booking: booking });
  }

  function prefill(given) {
    if (!given || typeof given !== "object") return;
    var form = document.querySelector("form[data-keep-typed]");
    if (!form) return;
    ["name", "email"].forEach(function (name) {
      var field = form.querySelector('input[name="' + name + '"]');
      var value = given[name];
      if (field && !field.value && typeof value === "string") field.value = value.slice(0, 254);
    });
  }

  function linksOutInNewTab() {
    var flow = window.location.pathname.match(/^\/book\/[^/]+\/[^/]+\//);
    document.querySelectorAll("a[href]").forEach(function (link) {
      var url = new URL(link.href, window.location.href);
      var inFlow = flow && url.origin === window.location.origin && url.pathname.indexOf(flow[0]) === 0;
      if (inFlow || link.hasAttribute("download")) return;
      link.target = "_blank";
      link.rel = "noopener";
    });
  }

  window.addEventListener("message", function (event) {
    if (event.source !== window.parent) return;
    var data = event.data;
    if (!data || data.type !== "multical:hello" || event.origin === "null") return;
    host = event.origin;
    lastHeight = 0;
    prefill(data.prefill);
    sendHeight();
    sendBooked();
  });

  linksOutInNewTab();
  if (window.ResizeObserver) {
    new ResizeObserver(sendHeight).observe(document.body);
  } else {
    window.addEventListener("resize", sendHeight);
  }
})();
