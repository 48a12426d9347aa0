// The portfolio page: FullCalendar over /portfolio/events/, the "Up next" panel, failure banners,
// and the calendars' colours and visibility. Event text is only ever set as text, never as HTML.
(function () {
  "use strict";

  var root = document.getElementById("portfolio");
  var configElement = document.getElementById("portfolio-config");
  if (!root || !configElement || !window.FullCalendar || !window.luxon) return;

  var DateTime = window.luxon.DateTime;
  var config = JSON.parse(configElement.textContent);
  var params = new URLSearchParams(window.location.search);
  var VIEWS = { week: "timeGridWeek", month: "dayGridMonth", agenda: "listWeek" };
  var VIEW_NAMES = { timeGridWeek: "week", dayGridMonth: "month", listWeek: "agenda" };

  var zoneSelect = document.getElementById("portfolio-zone");
  var datePicker = document.getElementById("portfolio-date");
  var statusLine = document.getElementById("portfolio-status");
  var failureBox = document.getElementById("portfolio-failures");
  var upNextList = document.getElementById("up-next-list");
  var upNextEmpty = document.getElementById("up-next-empty");
  var dialog = document.getElementById("event-details");

  var zone = validZone(params.get("tz")) || config.timeZone || "UTC";
  var colors = {};
  // Today's events from the last read whose range held today: what "Up next" is made of.
  var today = null;

  function validZone(name) {
    return name && DateTime.local().setZone(name).isValid ? name : "";
  }

  function ensureZoneOption(name) {
    for (var i = 0; i < zoneSelect.options.length; i++) {
      if (zoneSelect.options[i].value === name) return;
    }
    zoneSelect.add(new Option(name, name), 1);
  }

  function textColor(hex) {
    var value = /^#([0-9a-f]{6})$/i.exec(hex || "");
    if (!value) return "#ffffff";
    var n = parseInt(value[1], 16);
    var channels = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map(function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return luminance > 0.45 ? "#111111" : "#ffffff";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  function safeLink(url) {
    return /^https?:\/\//i.test(url || "") ? url : "";
  }

  function joinButton(url, label) {
    var link = element("a", "button pf-join", "Join");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.setAttribute("aria-label", "Join " + (label || "the meeting"));
    return link;
  }

  function setStatus(text) {
    statusLine.textContent = text || "";
  }

  // Events -----------------------------------------------------------------------------------

  function toCalendarEvent(item) {
    item.calendars.forEach(function (c) {
      if (!colors[c.id]) colors[c.id] = c.color;
    });
    var color = colors[item.calendars[0].id];
    var classes = [];
    if (item.declined) classes.push("is-declined");
    if (item.tentative) classes.push("is-tentative");
    if (item.free) classes.push("is-free");
    if (item.booking) classes.push("is-booking");
    if (item.calendars.length > 1) classes.push("is-merged");
    return {
      id: item.id,
      title: item.title || "(no title)",
      start: item.start,
      end: item.end,
      allDay: item.allDay,
      backgroundColor: color,
      borderColor: color,
      textColor: textColor(color),
      classNames: classes,
      extendedProps: { source: item },
    };
  }

  function loadEvents(info, success, failure) {
    var query = new URLSearchParams({
      start: info.start.toISOString(),
      end: info.end.toISOString(),
    });
    fetch(config.eventsUrl + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 429) throw new Error("Too many refreshes: wait a few minutes, then try again.");
        if (response.status === 401) throw new Error("Your session has ended: log in again to see your calendars.");
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || "Your events could not be loaded.");
          return body;
        });
      })
      .then(function (body) {
        showFailures(body.failures);
        rememberToday(body.events, info.start, info.end);
        setStatus("");
        success(body.events.map(toCalendarEvent));
      })
      .catch(function (error) {
        setStatus(error.message || "Your events could not be loaded.");
        failure(error);
      });
  }

  function showFailures(failures) {
    failureBox.replaceChildren();
    failures.forEach(function (item) {
      var banner = element("div", "message message--error portfolio-failure");
      banner.setAttribute("role", "alert");
      banner.dataset.calendar = item.calendar.id;
      var text = element("p", "portfolio-failure__text");
      text.append(element("strong", "", item.calendar.name));
      text.append(document.createTextNode(" could not be loaded: " + item.reason));
      banner.append(text);
      if (item.needsReconnect) {
        var reconnect = element("a", "button button--quiet", "Reconnect");
        reconnect.href = "/calendars/";
        banner.append(reconnect);
      } else {
        var retry = element("button", "button button--quiet", "Retry");
        retry.type = "button";
        retry.addEventListener("click", function () {
          retry.disabled = true;
          calendar.refetchEvents();
        });
        banner.append(retry);
      }
      failureBox.append(banner);
    });
  }

  // Up next ----------------------------------------------------------------------------------

  function rememberToday(items, rangeStart, rangeEnd) {
    var now = Date.now();
    if (rangeStart.getTime() > now || rangeEnd.getTime() <= now) return;
    today = items.filter(function (item) {
      return !item.allDay && !item.declined;
    });
    renderUpNext();
  }

  function renderUpNext() {
    upNextList.replaceChildren();
    if (today === null) return;
    var now = DateTime.now().setZone(zone);
    var endOfDay = now.endOf("day");
    var rest = today.filter(function (item) {
      var start = DateTime.fromISO(item.start);
      var end = DateTime.fromISO(item.end);
      return end > now && start <= endOfDay;
    });
    rest.forEach(function (item) {
      var start = DateTime.fromISO(item.start).setZone(zone);
      var end = DateTime.fromISO(item.end).setZone(zone);
      var entry = element("li", "up-next__item");
      entry.style.borderLeftColor = colors[item.calendars[0].id] || item.calendars[0].color;
      var when = element("span", "up-next__time", start.toFormat("HH:mm") + "–" + end.toFormat("HH:mm"));
      if (start <= now) when.append(element("span", "badge badge--ok", "Now"));
      entry.append(when);
      var title = element("button", "up-next__title", item.title || "(no title)");
      title.type = "button";
      title.addEventListener("click", function () {
        openDetails(item);
      });
      entry.append(title);
      entry.append(element("span", "up-next__calendars hint", calendarNames(item)));
      var link = safeLink(item.videoLink);
      if (link) entry.append(joinButton(link, item.title));
      upNextList.append(entry);
    });
    upNextEmpty.hidden = rest.length > 0;
  }

  function calendarNames(item) {
    return item.calendars
      .map(function (c) {
        return c.name;
      })
      .join(", ");
  }

  // Details ----------------------------------------------------------------------------------

  function describeWhen(item) {
    if (item.allDay) {
      var first = DateTime.fromISO(item.start, { zone: "UTC" });
      var last = DateTime.fromISO(item.end, { zone: "UTC" }).minus({ days: 1 });
      var day = "ccc d LLL yyyy";
      return +last > +first ? first.toFormat(day) + " – " + last.toFormat(day) + " (all day)" : first.toFormat(day) + " (all day)";
    }
    var start = DateTime.fromISO(item.start).setZone(zone);
    var end = DateTime.fromISO(item.end).setZone(zone);
    var text = start.toFormat("ccc d LLL yyyy, HH:mm") + " – ";
    text += start.hasSame(end, "day") ? end.toFormat("HH:mm") : end.toFormat("ccc d LLL, HH:mm");
    return text + " (" + zone + ")";
  }

  function openDetails(item) {
    dialog.querySelector("#event-details-title").textContent = item.title || "(no title)";
    var badges = dialog.querySelector(".event-details__badges");
    badges.replaceChildren();
    if (item.booking) badges.append(element("span", "badge badge--ok", "Booking"));
    if (item.declined) badges.append(element("span", "badge badge--muted", "Declined"));
    if (item.tentative) badges.append(element("span", "badge badge--muted", "Tentative"));
    if (item.free) badges.append(element("span", "badge badge--muted", "Free"));
    dialog.querySelector(".event-details__when").textContent = describeWhen(item);

    var list = dialog.querySelector(".event-details__calendars");
    list.replaceChildren();
    item.calendars.forEach(function (c) {
      var entry = element("span", "event-details__calendar");
      var swatch = element("span", "swatch");
      swatch.style.backgroundColor = colors[c.id] || c.color;
      entry.append(swatch, document.createTextNode(c.name));
      list.append(entry);
    });

    var hasLocation = Boolean(item.location);
    dialog.querySelector(".event-details__location-label").hidden = !hasLocation;
    var place = dialog.querySelector(".event-details__location");
    place.hidden = !hasLocation;
    place.textContent = item.location || "";

    var link = safeLink(item.videoLink);
    dialog.querySelector(".event-details__video-label").hidden = !link;
    var video = dialog.querySelector(".event-details__video");
    video.hidden = !link;
    video.replaceChildren();
    if (link) {
      video.append(joinButton(link, item.title));
      var address = element("a", "event-details__link", link);
      address.href = link;
      address.target = "_blank";
      address.rel = "noopener noreferrer";
      video.append(address);
    }
    if (typeof dialog.showModal === "function") dialog.showModal();
    else dialog.setAttribute("open", "");
  }

  // The calendar -----------------------------------------------------------------------------

  function renderContent(arg) {
    var item = arg.event.extendedProps.source;
    var box = element("div", "pf-event");
    if (arg.timeText && !arg.event.allDay) box.append(element("span", "pf-event__time", arg.timeText));
    box.append(element("span", "pf-event__title", arg.event.title));
    if (item.booking) box.append(element("span", "pf-badge", "Booking"));
    if (item.calendars.length > 1) {
      var dots = element("span", "pf-event__calendars");
      dots.title = calendarNames(item);
      item.calendars.forEach(function (c) {
        var dot = element("span", "pf-dot");
        dot.style.backgroundColor = colors[c.id] || c.color;
        dots.append(dot);
      });
      box.append(dots);
    }
    return { domNodes: [box] };
  }

  function rememberState(view) {
    var state = new URLSearchParams(window.location.search);
    state.set("view", VIEW_NAMES[view.type] || "week");
    state.set("date", DateTime.fromJSDate(view.calendar.getDate(), { zone: zone }).toISODate());
    if (zone !== config.timeZone) state.set("tz", zone);
    else state.delete("tz");
    window.history.replaceState(null, "", "?" + state.toString());
  }

  // The week's day scrolls inside the grid (starting an hour before now); the others grow.
  function heightFor(viewType) {
    return viewType === "timeGridWeek" ? Math.max(560, Math.round(window.innerHeight * 0.8)) : "auto";
  }

  var initialDate = params.get("date");
  var initialView = VIEWS[params.get("view")] || "timeGridWeek";
  var calendar = new window.FullCalendar.Calendar(document.getElementById("portfolio-calendar"), {
    timeZone: zone,
    locale: navigator.language || "en",
    firstDay: 1,
    initialView: initialView,
    initialDate: /^\d{4}-\d{2}-\d{2}$/.test(initialDate || "") ? initialDate : undefined,
    headerToolbar: { left: "prev,next today", center: "title", right: "timeGridWeek,dayGridMonth,listWeek" },
    buttonText: { today: "Today", prev: "Previous", next: "Next" },
    views: {
      // Start times only: short events keep room for their titles.
      timeGridWeek: { buttonText: "Week", displayEventEnd: false },
      dayGridMonth: { buttonText: "Month", dayMaxEvents: 4 },
      listWeek: { buttonText: "Agenda" },
    },
    height: heightFor(initialView),
    // Coloured blocks in every view (month view would show timed events as dots and text).
    eventDisplay: "block",
    nowIndicator: true,
    allDaySlot: true,
    slotEventOverlap: false,
    scrollTime: DateTime.now().setZone(zone).minus({ hours: 1 }).toFormat("HH:00:00"),
    eventTimeFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    slotLabelFormat: { hour: "2-digit", minute: "2-digit", hour12: false },
    noEventsContent: "No events in this range.",
    events: loadEvents,
    eventContent: renderContent,
    eventDidMount: function (arg) {
      var item = arg.event.extendedProps.source;
      arg.el.dataset.eventId = item.id;
      arg.el.dataset.calendars = calendarNames(item);
      arg.el.title = (arg.event.title || "") + " · " + calendarNames(item);
    },
    eventClick: function (arg) {
      arg.jsEvent.preventDefault();
      openDetails(arg.event.extendedProps.source);
    },
    loading: function (busy) {
      root.classList.toggle("is-loading", busy);
      if (busy) setStatus("Loading your events…");
    },
    datesSet: function (arg) {
      datePicker.value = DateTime.fromJSDate(arg.view.calendar.getDate(), { zone: zone }).toISODate();
      rememberState(arg.view);
      var height = heightFor(arg.view.type);
      if (calendar && calendar.getOption("height") !== height) {
        window.setTimeout(function () {
          calendar.setOption("height", height);
        }, 0);
      }
    },
  });

  ensureZoneOption(zone);
  zoneSelect.value = zone;
  zoneSelect.addEventListener("change", function () {
    zone = zoneSelect.value;
    calendar.setOption("timeZone", zone);
    rememberState(calendar.view);
    renderUpNext();
  });
  datePicker.addEventListener("change", function () {
    if (datePicker.value) calendar.gotoDate(datePicker.value);
  });

  // Calendars: colour and visibility -------------------------------------------------------------

  document.querySelectorAll("form.calendar-preference").forEach(function (form) {
    form.addEventListener("change", function (event) {
      var field = event.target;
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) throw new Error("Your change could not be saved.");
          return response.json();
        })
        .then(function (saved) {
          if (field.name === "color") {
            colors[saved.id] = saved.color;
            calendar.getEvents().forEach(function (shown) {
              var item = shown.extendedProps.source;
              if (item.calendars[0].id === saved.id) {
                shown.setProp("backgroundColor", saved.color);
                shown.setProp("borderColor", saved.color);
                shown.setProp("textColor", textColor(saved.color));
              }
            });
            renderUpNext();
          } else {
            calendar.refetchEvents();
          }
        })
        .catch(function (error) {
          setStatus(error.message);
        });
    });
  });

  if (dialog) {
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) dialog.close();
    });
  }

  calendar.render();
  window.setInterval(renderUpNext, 60 * 1000);
})();
