// Home: the next meetings from every calendar, read on demand from the portfolio's event feed
// (nothing about events is stored; without JavaScript the card links to the portfolio).
(function () {
  "use strict";
  var box = document.getElementById("next-meetings");
  if (!box || !window.fetch) return;
  var zone = box.dataset.timeZone || undefined;
  var now = new Date();
  var end = new Date(now.getTime() + 2 * 24 * 3600 * 1000);
  var url = box.dataset.source + "?start=" + encodeURIComponent(now.toISOString()) +
    "&end=" + encodeURIComponent(end.toISOString());
  // The page's words and language (the template translates them).
  var words = box.dataset;
  var timeFormat = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    weekday: "short", hour: "2-digit", minute: "2-digit", timeZone: zone
  });

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function render(data) {
    var meetings = data.events.filter(function (event) {
      return !event.allDay && !event.declined && new Date(event.end) > now;
    }).sort(function (a, b) { return new Date(a.start) - new Date(b.start); }).slice(0, 5);
    var list = element("ul", "dashboard__list");
    meetings.forEach(function (event) {
      var row = element("li", "dashboard__row");
      var text = element("div");
      text.appendChild(element("strong", "", event.title || words.noTitle));
      var names = event.calendars.map(function (c) { return c.name; }).join(", ");
      text.appendChild(element("p", "hint", timeFormat.format(new Date(event.start)) + " · " + names));
      row.appendChild(text);
      if (event.videoLink) {
        var join = element("a", "button", words.join);
        join.href = event.videoLink;
        join.rel = "noopener noreferrer";
        join.target = "_blank";
        row.appendChild(join);
      }
      list.appendChild(row);
    });
    box.replaceChildren();
    if (meetings.length) box.appendChild(list);
    else box.appendChild(element("p", "hint", words.none));
    data.failures.forEach(function (failure) {
      box.appendChild(element("p", "connection__error", failure.calendar.name + ": " + failure.reason));
    });
  }

  fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (response) { if (!response.ok) throw new Error(); return response.json(); })
    .then(render)
    .catch(function () { /* the portfolio link already in the card stays */ });
})();
