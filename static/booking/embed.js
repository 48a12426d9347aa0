// Multical booking pages inside your own website. Include this script once, from the Multical
// server that hosts the pages, and mark links to booking pages (the snippets on the list of
// booking pages are ready to paste):
//
//   <a href="https://multical.example/book/ada/intro/" data-multical-embed="inline">Book a time</a>
//   <script src="https://multical.example/static/booking/embed.js" defer></script>
//
// data-multical-embed: "inline" (the page in place of the link, as tall as its content), "popup"
// (the link opens it in a dialog) or "floating" (the link becomes a button in the bottom corner
// that opens the dialog). Optional: data-name and data-email fill in the booking form,
// data-close-label names the dialog's close button ("Close"), data-color is the floating
// button's. Without this script, or with scripts off, each stays a plain link to the page.
//
// When a time is booked, the element (the link, or the frame's box that replaced it) dispatches
// "multical:booked", which bubbles, with event.detail = {id, start, end, duration, page}.
//
// Messages are taken from frames of this script's own origin only, and from our frames only;
// whatever we send them is addressed to that origin (booking/embed.py lists the messages).
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.multicalEmbed) return;
  var ORIGIN = new URL(script.src, window.location.href).origin;
  var embeds = [];
  window.multicalEmbed = { origin: ORIGIN };

  function frameUrl(link) {
    var url = new URL(link.href, window.location.href);
    if (url.origin !== ORIGIN || url.pathname.indexOf("/book/") !== 0) return null;
    url.searchParams.set("embed", "1");
    return url.href;
  }

  function makeFrame(embed) {
    var frame = document.createElement("iframe");
    frame.title = embed.title;
    frame.style.display = "block";
    frame.style.width = "100%";
    frame.style.border = "0";
    frame.style.height = "640px";
    frame.addEventListener("load", function () {
      // Addressed to our origin: the name and e-mail reach no other page the frame may show.
      frame.contentWindow.postMessage(
        { type: "multical:hello", prefill: { name: embed.name, email: embed.email } },
        ORIGIN
      );
    });
    frame.src = embed.url;
    embed.frame = frame;
    return frame;
  }

  function inline(embed) {
    var box = document.createElement("div");
    box.className = "multical-embed";
    box.setAttribute("data-multical-embed", "inline");
    box.appendChild(makeFrame(embed));
    embed.link.replaceWith(box);
    embed.target = box;
  }

  function dialogFor(embed) {
    if (embed.dialog) return embed.dialog;
    var dialog = document.createElement("dialog");
    dialog.className = "multical-embed-dialog";
    dialog.setAttribute("aria-label", embed.title);
    dialog.style.padding = "0";
    dialog.style.border = "0";
    dialog.style.borderRadius = "12px";
    dialog.style.width = "min(720px, calc(100vw - 2rem))";
    dialog.style.maxHeight = "calc(100vh - 2rem)";
    dialog.style.overflow = "auto";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", embed.link.getAttribute("data-close-label") || "Close");
    close.style.position = "sticky";
    close.style.top = "0";
    close.style.float = "right";
    close.style.zIndex = "1";
    close.style.width = "2.75rem";
    close.style.height = "2.75rem";
    close.style.border = "0";
    close.style.background = "transparent";
    close.style.fontSize = "1.75rem";
    close.style.cursor = "pointer";
    close.addEventListener("click", function () {
      dialog.close();
    });
    dialog.appendChild(close);
    dialog.appendChild(makeFrame(embed));
    document.body.appendChild(dialog);
    embed.dialog = dialog;
    return dialog;
  }

  function opener(embed) {
    embed.link.addEventListener("click", function (event) {
      if (!window.HTMLDialogElement) return; // an old browser follows the link instead
      event.preventDefault();
      dialogFor(embed).showModal();
    });
  }

  function floating(embed) {
    var style = embed.link.style;
    style.position = "fixed";
    style.right = "1.25rem";
    style.bottom = "1.25rem";
    style.zIndex = "2147483000";
    style.padding = "0.8rem 1.3rem";
    style.borderRadius = "999px";
    style.background = embed.link.getAttribute("data-color") || "#1d4ed8";
    style.color = "#ffffff";
    style.fontWeight = "600";
    style.textDecoration = "none";
    style.boxShadow = "0 6px 20px rgba(0, 0, 0, 0.25)";
    document.body.appendChild(embed.link);
    opener(embed);
  }

  function setUp(link) {
    var mode = link.getAttribute("data-multical-embed");
    var url = frameUrl(link);
    if (!url || link.hasAttribute("data-multical-ready")) return;
    link.setAttribute("data-multical-ready", "");
    var embed = {
      link: link,
      target: link,
      url: url,
      title: (link.textContent || "").trim() || "Booking page",
      name: link.getAttribute("data-name") || undefined,
      email: link.getAttribute("data-email") || undefined,
    };
    if (mode === "inline") inline(embed);
    else if (mode === "popup") opener(embed);
    else if (mode === "floating") floating(embed);
    else return;
    embeds.push(embed);
  }

  function embedFor(source) {
    for (var i = 0; i < embeds.length; i++) {
      if (embeds[i].frame && embeds[i].frame.contentWindow === source) return embeds[i];
    }
    return null;
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== ORIGIN) return;
    var embed = embedFor(event.source);
    var data = event.data;
    if (!embed || !data || typeof data.type !== "string") return;
    if (data.type === "multical:resize" && typeof data.height === "number" && data.height > 0) {
      embed.frame.style.height = Math.ceil(data.height) + "px";
    } else if (data.type === "multical:booked" && data.booking) {
      embed.target.dispatchEvent(
        new CustomEvent("multical:booked", { bubbles: true, detail: data.booking })
      );
    }
  });

  function start() {
    document.querySelectorAll("a[data-multical-embed]").forEach(setUp);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
