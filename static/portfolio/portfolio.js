// The portfolio page: FullCalendar (with a month view of our own) over /portfolio/events/, the
// "Up next" panel, failure banners, the calendars' colours and visibility, conflicts and search
// over what is loaded, and the event panel that opens, creates, changes, moves, deletes and
// answers events at their providers.
// Event text is only ever set as text, never as HTML, and kept only in this page's memory.
(function () {
  "use strict";

  var root = document.getElementById("portfolio");
  var configElement = document.getElementById("portfolio-config");
  if (!root || !configElement || !window.FullCalendar || !window.luxon) return;

  var DateTime = window.luxon.DateTime;
  var config = JSON.parse(configElement.textContent);
  // The page's words in the reader's language (portfolio/words.py), and the page's language.
  var wordsElement = document.getElementById("portfolio-words");
  var WORDS = wordsElement ? JSON.parse(wordsElement.textContent) : {};
  var LANGUAGE = document.documentElement.lang || "en";
  var plurals = new Intl.PluralRules(LANGUAGE);
  window.luxon.Settings.defaultLocale = LANGUAGE;
  var params = new URLSearchParams(window.location.search);
  var VIEWS = {
    day: "timeGridDay",
    days: "timeGridSevenDays",
    week: "timeGridWeek",
    month: "monthGrid",
    agenda: "listSevenDays",
  };
  var VIEW_NAMES = {};
  Object.keys(VIEWS).forEach(function (name) {
    VIEW_NAMES[VIEWS[name]] = name;
  });
  var PHONE = window.matchMedia("(max-width: 700px)");
  var writable = new Set(config.writable || []);
  // Per writable calendar: how its repeating events can be changed ("this", "following", "all").
  var calendarScopes = config.scopes || {};
  // The user's clock (Settings): 14:30 or 2:30 PM, everywhere this page writes a time.
  var TIME = config.clock === 12 ? "h:mm a" : "HH:mm";
  var READ_ONLY = say("readOnly");

  var zoneSelect = document.getElementById("portfolio-zone");
  var datePicker = document.getElementById("portfolio-date");
  var statusLine = document.getElementById("portfolio-status");
  var failureBox = document.getElementById("portfolio-failures");
  var upNextList = document.getElementById("up-next-list");
  var upNextEmpty = document.getElementById("up-next-empty");
  var dialog = document.getElementById("event-details");
  var searchBox = document.getElementById("portfolio-search");
  var conflictBox = document.getElementById("portfolio-conflicts");
  var conflictCount = document.getElementById("portfolio-conflict-count");
  var conflictsOnly = document.getElementById("portfolio-conflicts-only");
  var toast = document.getElementById("portfolio-toast");

  var zone = validZone(params.get("tz")) || config.timeZone || "UTC";
  var colors = {};
  // Today's events from the last read whose range held today: what "Up next" is made of.
  var today = null;
  // The last read (its range and events), and whether its range is a month's.
  var loaded = null;
  var reuseLoaded = false;
  // A month shows a few events a day and "+N more" for the rest, which opens that day. Given all
  // of a busy month (2,000 events), FullCalendar would draw and measure every one of them, hidden
  // or not, and keep the page busy for seconds.
  var MONTH_PER_DAY = 3;

  function validZone(name) {
    return name && DateTime.local().setZone(name).isValid ? name : "";
  }

  function ensureZoneOption(name) {
    for (var i = 0; i < zoneSelect.options.length; i++) {
      if (zoneSelect.options[i].value === name) return;
    }
    zoneSelect.add(new Option(name, name), 1);
  }

  // Black or white on a calendar's colour, whichever contrasts more: one of them always reaches
  // WCAG's 4.5:1, and a fixed threshold left mid colours with white text at 3:1.
  function textColor(hex) {
    var value = /^#([0-9a-f]{6})$/i.exec(hex || "");
    if (!value) return "#ffffff";
    var n = parseInt(value[1], 16);
    var channels = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map(function (c) {
      c /= 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
    return (luminance + 0.05) / 0.05 > 1.05 / (luminance + 0.05) ? "#000000" : "#ffffff";
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // The word ``key`` with its %(name)s places filled from ``values``; a pair is singular and
  // plural, picked by ``values.count``.
  function say(key, values) {
    var word = WORDS[key];
    // A word said of a count comes in the language's plural categories (portfolio/words.py).
    if (word && typeof word === "object") word = word[plurals.select(values ? values.count : 0)] || word.other;
    return String(word === undefined ? key : word).replace(/%\((\w+)\)s/g, function (all, name) {
      return values && values[name] !== undefined ? values[name] : all;
    });
  }

  function safeLink(url) {
    return /^https?:\/\//i.test(url || "") ? url : "";
  }

  function joinButton(url, label) {
    var link = element("a", "button pf-join", say("join"));
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.setAttribute("aria-label", label ? say("joinNamed", { title: label }) : say("joinMeeting"));
    return link;
  }

  function setStatus(text) {
    statusLine.textContent = text || "";
  }

  // Events -----------------------------------------------------------------------------------

  // The copy of an event an action goes to: the first one in a calendar that can be written.
  function writableRef(item) {
    if (item.booking || item.block) return null;
    for (var i = 0; i < (item.refs || []).length; i++) {
      if (writable.has(item.refs[i].calendar)) return item.refs[i];
    }
    return null;
  }

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
    if (item.conflict) classes.push("is-conflict");
    if (item.block) classes.push("is-block");
    return {
      id: item.id,
      title: item.title || say("noTitle"),
      start: item.start,
      end: item.end,
      allDay: item.allDay,
      backgroundColor: color,
      borderColor: color,
      textColor: textColor(color),
      classNames: classes,
      // Dragged and resized only where the provider can write it (not iCal links, not bookings).
      editable: Boolean(writableRef(item)),
      display: matchesFilters(item) ? "auto" : "none",
      extendedProps: { source: item, order: 0 },
    };
  }

  // "+N more" for a day of a month: opens the day.
  function moreEvent(day, count) {
    return {
      id: "more-" + day,
      title: say("more", { count: count }),
      start: day,
      allDay: true,
      editable: false,
      classNames: ["pf-more"],
      extendedProps: { more: day, count: count, order: 1 },
    };
  }

  // A day's date where the page shows time ("2027-01-05"): Intl's, as a month runs this for
  // every event it reads (luxon's parsing, thousands of times, would be a long task of its own).
  // Asked once per quarter hour: today's zones are all a whole number of quarter hours from UTC,
  // so a day never begins inside one.
  var QUARTER_HOUR = 15 * 60 * 1000;
  var dayFormat = null;
  function dayKey(ms) {
    if (!dayFormat || dayFormat.zone !== zone) {
      dayFormat = {
        zone: zone,
        format: new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }),
        days: new Map(),
      };
    }
    var quarter = Math.floor(ms / QUARTER_HOUR);
    var day = dayFormat.days.get(quarter);
    if (day === undefined) {
      day = dayFormat.format.format(quarter * QUARTER_HOUR);
      dayFormat.days.set(quarter, day);
    }
    return day;
  }

  function dayOf(item) {
    return item.allDay ? item.start.slice(0, 10) : dayKey(Date.parse(item.start));
  }

  function spansDays(item) {
    if (item.allDay) {
      var next = new Date(Date.parse(item.start.slice(0, 10) + "T00:00:00Z") + 864e5).toISOString().slice(0, 10);
      return item.end.slice(0, 10) > next;
    }
    return dayKey(Date.parse(item.start)) !== dayKey(Date.parse(item.end) - 1);
  }

  // What a month shows of the events that pass the filters: events of one day beyond the first
  // few are left to the day's "+N more" (events over several days are always shown).
  function monthEvents(items) {
    var byDay = {};
    items.forEach(function (item) {
      if (!matchesFilters(item) || spansDays(item)) return;
      var day = dayOf(item);
      (byDay[day] = byDay[day] || []).push(item);
    });
    var folded = new Set();
    var more = [];
    Object.keys(byDay).forEach(function (day) {
      var list = byDay[day];
      if (list.length <= MONTH_PER_DAY + 1) return;
      list.sort(function (a, b) {
        return a.start < b.start ? -1 : a.start > b.start ? 1 : a.title < b.title ? -1 : 1;
      });
      list.slice(MONTH_PER_DAY).forEach(function (item) {
        folded.add(item);
      });
      more.push(moreEvent(day, list.length - MONTH_PER_DAY));
    });
    // What is folded or filtered out is not given to FullCalendar at all (it would still parse it).
    return items
      .filter(function (item) {
        return !folded.has(item) && matchesFilters(item);
      })
      .map(toCalendarEvent)
      .concat(more);
  }

  // Conflicts: real timed events of different calendars that overlap (declined and free ones
  // do not take the time). An event found in several calendars is one event.
  function markConflicts(items) {
    var timed = items
      .filter(function (item) {
        item.conflict = false;
        return !item.allDay && !item.declined && !item.free && !item.block;
      })
      .map(function (item) {
        return { item: item, start: Date.parse(item.start), end: Date.parse(item.end) };
      })
      .sort(function (a, b) {
        return a.start - b.start;
      });
    var open = [];
    timed.forEach(function (entry) {
      open = open.filter(function (other) {
        return other.end > entry.start;
      });
      open.forEach(function (other) {
        if (entry.start < other.end && sharesNoCalendar(entry.item, other.item)) {
          entry.item.conflict = other.item.conflict = true;
        }
      });
      open.push(entry);
    });
  }

  function sharesNoCalendar(a, b) {
    var ids = new Set(
      a.calendars.map(function (c) {
        return c.id;
      })
    );
    return !b.calendars.some(function (c) {
      return ids.has(c.id);
    });
  }

  function showConflicts() {
    var count = loaded
      ? loaded.events.filter(function (item) {
          return item.conflict;
        }).length
      : 0;
    conflictBox.hidden = count === 0 && !conflictsOnly.checked;
    conflictCount.textContent = say("conflicts", { count: count });
  }

  // Search and the conflict filter act on what is loaded; nothing is sent anywhere.
  function matchesFilters(item) {
    var words = (searchBox.value || "").trim().toLocaleLowerCase();
    var text = (item.title + " " + (item.location || "")).toLocaleLowerCase();
    return (!words || text.indexOf(words) !== -1) && (!conflictsOnly.checked || item.conflict);
  }

  function applyFilters() {
    if (loaded && loaded.month) {
      // A month's "+N more" count what passes: the last read is given again, filtered anew.
      reuseLoaded = true;
      calendar.refetchEvents();
      return;
    }
    calendar.batchRendering(function () {
      calendar.getEvents().forEach(function (shown) {
        var item = shown.extendedProps.source;
        if (!item) return;
        var visible = matchesFilters(item);
        if ((shown.display === "none") === visible) shown.setProp("display", visible ? "auto" : "none");
      });
    });
  }

  function covers(read, start, end) {
    return Boolean(read) && read.start <= start.getTime() && end.getTime() <= read.end;
  }

  // The events for a range: read from the server, or given again from the last read (filters
  // changed; or a day or week inside the month just read, which FullCalendar would otherwise show
  // from the month's folded events).
  function loadEvents(info, success, failure) {
    var month = info.end - info.start > 10 * 24 * 3600 * 1000;
    if (reuseLoaded && covers(loaded, info.start, info.end)) {
      reuseLoaded = false;
      loaded.month = month;
      success(month ? monthEvents(loaded.events) : loaded.events.map(toCalendarEvent));
      return;
    }
    reuseLoaded = false;
    var query = new URLSearchParams({
      start: info.start.toISOString(),
      end: info.end.toISOString(),
    });
    fetch(config.eventsUrl + "?" + query.toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    })
      .then(function (response) {
        if (response.status === 429) throw new Error(say("tooManyRefreshes"));
        if (response.status === 401) throw new Error(say("sessionEndedCalendars"));
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || say("notLoaded"));
          return body;
        });
      })
      .then(function (body) {
        showFailures(body.failures);
        markConflicts(body.events);
        rememberToday(body.events, info.start, info.end);
        setStatus("");
        loaded = { start: info.start.getTime(), end: info.end.getTime(), month: month, events: body.events };
        var shown = month ? monthEvents(body.events) : body.events.map(toCalendarEvent);
        // FullCalendar draws them in a task of its own: with ours before it, a busy month's
        // answer would hold the page for longer than a frame should wait.
        return nextTask().then(function () {
          success(shown);
        });
      })
      .catch(function (error) {
        setStatus(error.message || say("notLoaded"));
        failure(error);
      });
  }

  // A promise kept in a later task (after the browser has had its turn to draw and to listen).
  function nextTask() {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, 0);
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
      text.append(document.createTextNode(" " + say("calendarNotLoaded", { reason: item.reason })));
      banner.append(text);
      if (item.needsReconnect) {
        var reconnect = element("a", "button button--quiet", say("reconnect"));
        reconnect.href = "/calendars/";
        banner.append(reconnect);
      } else {
        var retry = element("button", "button button--quiet", say("retry"));
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
      var when = element("span", "up-next__time", start.toFormat(TIME) + "–" + end.toFormat(TIME));
      if (start <= now) when.append(element("span", "badge badge--ok", say("now")));
      entry.append(when);
      var title = element("button", "up-next__title", item.title || say("noTitle"));
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
      return +last > +first
        ? say("allDayRange", { first: first.toFormat(day), last: last.toFormat(day) })
        : say("allDay", { day: first.toFormat(day) });
    }
    var start = DateTime.fromISO(item.start).setZone(zone);
    var end = DateTime.fromISO(item.end).setZone(zone);
    var text = start.toFormat("ccc d LLL yyyy, " + TIME) + " – ";
    text += start.hasSame(end, "day") ? end.toFormat(TIME) : end.toFormat("ccc d LLL, " + TIME);
    return text + " (" + zone + ")";
  }

  // The event panel ----------------------------------------------------------------------------

  var viewPart = dialog.querySelector(".event-details__view");
  var editForm = dialog.querySelector(".event-form");
  var removeForm = dialog.querySelector(".event-remove");
  var scopeDialog = document.getElementById("event-scope");
  // What the panel shows: the feed's item, the copy acted on, and the event as last read.
  var current = { item: null, ref: null, opened: null, creating: false };

  function csrfToken() {
    var field = dialog.querySelector("[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function actionUrl(action, calendarId) {
    return config.eventUrls[action].replace(config.calendarPlaceholder, calendarId);
  }

  // One round trip to an action endpoint: resolves {status, body}; network trouble is a message.
  function send(action, calendarId, fields, method) {
    var url = actionUrl(action, calendarId);
    var options = {
      method: method || "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    };
    if (options.method === "GET") {
      url += "?" + new URLSearchParams(fields).toString();
    } else {
      var body = new FormData();
      Object.keys(fields).forEach(function (name) {
        if (fields[name] !== undefined && fields[name] !== null) body.append(name, fields[name]);
      });
      options.body = body;
    }
    return fetch(url, options).then(
      function (response) {
        return response
          .json()
          .catch(function () {
            return { error: statusMessage(response.status) };
          })
          .then(function (body) {
            if (!response.ok && !body.error) body.error = statusMessage(response.status);
            return { status: response.status, body: body };
          });
      },
      function () {
        return { status: 0, body: { error: say("unreachable") } };
      }
    );
  }

  function statusMessage(status) {
    if (status === 401) return say("sessionEnded");
    if (status === 403) return say("notAllowed");
    if (status === 404) return say("notYours");
    if (status === 429) return say("tooManyChanges");
    return say("providerSilent");
  }

  function showMode(mode) {
    viewPart.hidden = mode !== "view";
    editForm.hidden = mode !== "edit";
    removeForm.hidden = mode !== "remove";
  }

  function openPanel() {
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) dialog.showModal();
    } else dialog.setAttribute("open", "");
  }

  function closePanel() {
    if (dialog.open) dialog.close();
  }

  function fillFacts(item) {
    dialog.querySelector("#event-details-title").textContent = item.title || say("noTitle");
    var badges = dialog.querySelector(".event-details__badges");
    badges.replaceChildren();
    if (item.booking) badges.append(element("span", "badge badge--ok", say("booking")));
    if (item.block) badges.append(element("span", "badge badge--muted", item.rule ? say("blockOf", { rule: item.rule }) : say("block")));
    if (item.conflict) badges.append(element("span", "badge badge--error", say("conflict")));
    if (item.declined) badges.append(element("span", "badge badge--muted", say("declined")));
    if (item.tentative) badges.append(element("span", "badge badge--muted", say("tentative")));
    if (item.free) badges.append(element("span", "badge badge--muted", say("free")));
    if (item.recurring) badges.append(element("span", "badge badge--muted", say("repeats")));
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
    setDescription("");
  }

  function setDescription(text) {
    dialog.querySelector(".event-details__description-label").hidden = !text;
    var notes = dialog.querySelector(".event-details__description");
    notes.hidden = !text;
    notes.textContent = text || "";
  }

  function resetActions() {
    dialog.querySelector("[data-action=edit]").hidden = true;
    dialog.querySelector("[data-action=delete]").hidden = true;
    dialog.querySelector(".event-details__reply").hidden = true;
    dialog.querySelector(".event-details__web").hidden = true;
    var keeper = dialog.querySelector(".event-details__keeper");
    keeper.hidden = true;
    keeper.replaceChildren();
    note("");
  }

  function note(text) {
    var line = dialog.querySelector(".event-details__note");
    line.hidden = !text;
    line.textContent = text || "";
  }

  // The event as its provider has it now: notes, what may be done, who keeps it.
  function showOpened(opened) {
    current.opened = opened;
    setDescription(opened.event.description);
    var web = dialog.querySelector(".event-details__web");
    if (opened.webLink) {
      web.href = opened.webLink;
      web.textContent = opened.webLabel || say("openInCalendar");
      web.hidden = false;
    }
    if (opened.keeper) {
      var keeper = dialog.querySelector(".event-details__keeper");
      keeper.append(
        document.createTextNode(
          opened.keeper.kind === "block"
            ? say("keeperBlock")
            : say("keeperBooking")
        )
      );
      var go = element("a", "", opened.keeper.label);
      go.href = opened.keeper.url;
      keeper.append(go);
      keeper.hidden = false;
    }
    dialog.querySelector("[data-action=edit]").hidden = !opened.editable;
    dialog.querySelector("[data-action=delete]").hidden = !opened.editable;
    var reply = dialog.querySelector(".event-details__reply");
    reply.hidden = !opened.canReply;
    reply.querySelectorAll("[data-reply]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(opened.event.response === button.dataset.reply));
    });
    if (!opened.canReply && !opened.organizer && opened.replyNote) note(opened.replyNote);
    else if (!writable.has(opened.calendar.id)) note(READ_ONLY);
  }

  // Changed elsewhere meanwhile: the panel and the grid show the event as its provider has it now.
  function showChanged(opened) {
    var now = opened.event;
    current.item = Object.assign({}, current.item, {
      title: now.title,
      start: now.start,
      end: now.end,
      allDay: now.allDay,
      location: now.location,
      videoLink: now.videoLink,
      free: now.free,
    });
    fillFacts(current.item);
    resetActions();
    showOpened(opened);
    calendar.refetchEvents();
    var title = now.title || say("noTitle");
    return " " + say("isNow", { title: title, when: describeWhen(now) });
  }

  function openDetails(item) {
    current = { item: item, ref: writableRef(item) || (item.refs || [])[0] || null, opened: null, creating: false };
    fillFacts(item);
    resetActions();
    showMode("view");
    openPanel();
    if (!current.ref) return;
    var asked = current;
    note(say("reading"));
    send("open", current.ref.calendar, { event: current.ref.event }, "GET").then(function (answer) {
      if (current !== asked) return;
      note("");
      if (answer.status === 200) showOpened(answer.body);
      else if (!writable.has(asked.ref.calendar)) note(READ_ONLY);
      else note(answer.body.error);
    });
  }

  // The form: times in the zone the page shows -------------------------------------------------

  function localInput(iso, allDay, isEnd) {
    if (allDay) {
      var day = DateTime.fromISO(iso, { zone: "UTC" });
      return (isEnd ? day.minus({ days: 1 }) : day).toISODate();
    }
    return DateTime.fromISO(iso).setZone(zone).toFormat("yyyy-LL-dd'T'HH:mm");
  }

  function setAllDay(allDay) {
    ["event-start", "event-end"].forEach(function (id) {
      var input = document.getElementById(id);
      var value = input.value;
      input.type = allDay ? "date" : "datetime-local";
      if (value) input.value = allDay ? value.slice(0, 10) : value.length === 10 ? value + "T09:00" : value;
    });
    editForm.querySelector(".event-form__zone").textContent = allDay ? "" : say("timesIn", { zone: zone });
    editForm.querySelector(".event-form__zoom").hidden = !config.zoom || allDay || !current.creating;
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-error-for]").forEach(function (line) {
      line.hidden = true;
      line.textContent = "";
      var input = form.querySelector("[name=" + line.dataset.errorFor + "]");
      if (input) input.removeAttribute("aria-invalid");
    });
    var box = form.querySelector("[role=alert]");
    box.hidden = true;
    box.textContent = "";
  }

  function showErrors(form, body) {
    var box = form.querySelector("[role=alert]");
    box.textContent = body.error || say("somethingWrong");
    box.hidden = false;
    Object.keys(body.fields || {}).forEach(function (name) {
      var line = form.querySelector("[data-error-for=" + name + "]");
      var messages = body.fields[name].map(function (error) {
        return error.message;
      });
      if (line) {
        line.textContent = messages.join(" ");
        line.hidden = false;
        var input = form.querySelector("[name=" + name + "]");
        if (input) {
          input.setAttribute("aria-invalid", "true");
          line.id = line.id || "event-error-" + name;
          input.setAttribute("aria-describedby", line.id);
        }
      } else {
        box.textContent += " " + messages.join(" ");
      }
    });
  }

  function showScopes(fieldset, recurring, scopes) {
    fieldset.hidden = !recurring;
    fieldset.querySelector("[value=this]").checked = true;
    fieldset.querySelectorAll("[data-scope]").forEach(function (label) {
      label.hidden = scopes.indexOf(label.dataset.scope) === -1;
    });
    var missing = fieldset.querySelector(".event-form__scope-note");
    if (missing) {
      missing.hidden = !recurring || scopes.indexOf("following") !== -1;
      missing.textContent = say("noFollowing");
    }
  }

  function openEditor(values) {
    clearErrors(editForm);
    editForm.querySelector(".event-form__title").textContent = current.creating ? say("newEvent") : say("changeEvent");
    editForm.querySelector(".event-form__calendar").hidden = !current.creating;
    editForm.elements.title.value = values.title || "";
    editForm.elements.location.value = values.location || "";
    editForm.elements.description.value = values.description || "";
    editForm.elements.all_day.checked = Boolean(values.allDay);
    editForm.elements.zoom.checked = false;
    document.getElementById("event-start").type = values.allDay ? "date" : "datetime-local";
    document.getElementById("event-end").type = values.allDay ? "date" : "datetime-local";
    document.getElementById("event-start").value = localInput(values.start, values.allDay, false);
    document.getElementById("event-end").value = localInput(values.end, values.allDay, true);
    setAllDay(Boolean(values.allDay));
    var opened = current.opened;
    showScopes(editForm.querySelector(".event-form__scope"), Boolean(opened && opened.recurring), opened ? opened.scopes : []);
    showMode("edit");
    openPanel();
    editForm.elements.title.focus();
  }

  function formFields() {
    var allDay = editForm.elements.all_day.checked;
    var start = document.getElementById("event-start").value;
    var end = document.getElementById("event-end").value;
    var fields = {
      title: editForm.elements.title.value,
      location: editForm.elements.location.value,
      description: editForm.elements.description.value,
      all_day: allDay ? "on" : "",
      time_zone: zone,
      start: allDay ? start : toInstant(start),
      end: allDay ? end : toInstant(end),
    };
    if (current.creating && editForm.elements.zoom.checked && !editForm.querySelector(".event-form__zoom").hidden) fields.zoom = "on";
    return fields;
  }

  function toInstant(local) {
    var moment = DateTime.fromISO(local, { zone: zone });
    return moment.isValid ? moment.toISO({ suppressMilliseconds: true }) : local;
  }

  function openCreate(start, end, allDay) {
    current = { item: null, ref: null, opened: null, creating: true };
    openEditor({ start: start, end: end, allDay: allDay });
  }

  function saveEditor(event) {
    event.preventDefault();
    clearErrors(editForm);
    var fields = formFields();
    var calendarId, action;
    if (current.creating) {
      calendarId = editForm.elements.calendar.value;
      action = "create";
    } else {
      calendarId = current.ref.calendar;
      action = "update";
      fields.event = current.opened.event.id;
      fields.etag = current.opened.etag;
      var scope = editForm.querySelector("[name=scope]:checked");
      fields.scope = scope && !editForm.querySelector(".event-form__scope").hidden ? scope.value : "this";
    }
    var saveButton = editForm.querySelector("[type=submit]");
    saveButton.disabled = true;
    send(action, calendarId, fields).then(function (answer) {
      saveButton.disabled = false;
      if (answer.status === 200 || answer.status === 201) {
        closePanel();
        showToast(current.creating ? say("eventAdded") : say("eventSaved"));
        calendar.refetchEvents();
        return;
      }
      if (answer.status === 409 && answer.body.current) {
        // What the user typed stays; the next save is over the new version.
        answer.body.error +=
          showChanged(answer.body.current) + " " + say("changesKept");
      }
      showErrors(editForm, answer.body);
    });
  }

  function openRemove() {
    clearErrors(removeForm);
    removeForm.querySelector(".event-remove__what").textContent =
      (current.item.title || say("noTitle")) + ", " + describeWhen(current.item);
    var opened = current.opened;
    showScopes(removeForm.querySelector(".event-remove__scope"), Boolean(opened && opened.recurring), opened ? opened.scopes : []);
    showMode("remove");
    removeForm.querySelector("[type=submit]").focus();
  }

  function confirmRemove(event) {
    event.preventDefault();
    var scope = removeForm.querySelector("[name=scope]:checked");
    var fields = {
      event: current.opened.event.id,
      etag: current.opened.etag,
      scope: scope && !removeForm.querySelector(".event-remove__scope").hidden ? scope.value : "this",
    };
    send("remove", current.ref.calendar, fields).then(function (answer) {
      if (answer.status === 200) {
        closePanel();
        showToast(say("eventDeleted"));
        calendar.refetchEvents();
        return;
      }
      var message = answer.body.error;
      if (answer.status === 409 && answer.body.current) {
        message += showChanged(answer.body.current) + " " + say("deleteAnyway");
        removeForm.querySelector(".event-remove__what").textContent =
          (current.item.title || say("noTitle")) + ", " + describeWhen(current.item);
      }
      var box = removeForm.querySelector("[role=alert]");
      box.textContent = message;
      box.hidden = false;
    });
  }

  function sendReply(response) {
    var buttons = dialog.querySelectorAll("[data-reply]");
    buttons.forEach(function (button) {
      button.disabled = true;
    });
    send("reply", current.ref.calendar, { event: current.opened.event.id, response: response }).then(function (answer) {
      buttons.forEach(function (button) {
        button.disabled = false;
      });
      if (answer.status === 200) {
        showOpened(answer.body);
        showToast(say("answerSent"));
        calendar.refetchEvents();
      } else note(answer.body.error);
    });
  }

  // Dragging and resizing: new times at once, a scope for a repeating event, undo for a moment.
  function askScope(item, calendarId) {
    if (!item.recurring) return Promise.resolve("this");
    showScopes(scopeDialog.querySelector("form"), true, calendarScopes[calendarId] || ["this"]);
    return new Promise(function (resolve) {
      scopeDialog.returnValue = "";
      scopeDialog.addEventListener(
        "close",
        function () {
          resolve(scopeDialog.returnValue && scopeDialog.returnValue !== "cancel" ? scopeDialog.returnValue : null);
        },
        { once: true }
      );
      scopeDialog.showModal();
    });
  }

  // FullCalendar's own strings: dates for all-day events, instants with the offset otherwise.
  function timesOf(shown) {
    if (shown.allDay) {
      var first = shown.startStr.slice(0, 10);
      var after = shown.endStr ? shown.endStr.slice(0, 10) : DateTime.fromISO(first).plus({ days: 1 }).toISODate();
      return { all_day: "on", start: first, end: after };
    }
    var end = shown.endStr || DateTime.fromISO(shown.startStr).plus({ hours: 1 }).toISO();
    return { all_day: "", start: shown.startStr, end: end };
  }

  function moved(info) {
    var item = info.event.extendedProps.source;
    var ref = writableRef(item);
    if (!ref) {
      info.revert();
      return;
    }
    askScope(item, ref.calendar).then(function (scope) {
      if (!scope) {
        info.revert();
        return;
      }
      var before = timesOf(info.oldEvent);
      var fields = Object.assign({ event: ref.event, scope: scope }, timesOf(info.event));
      setStatus(say("moving"));
      send("move", ref.calendar, fields).then(function (answer) {
        setStatus("");
        if (answer.status !== 200) {
          info.revert();
          showToast(answer.body.error);
          return;
        }
        // The last read learns where the event is now: a month folds its days again from it.
        if (scope === "this") {
          item.start = answer.body.event.start;
          item.end = answer.body.event.end;
          ref.event = answer.body.event.id;
        }
        showToast(say("moved"), function () {
          var back = Object.assign({ event: answer.body.event.id, scope: scope, etag: answer.body.etag }, before);
          send("move", ref.calendar, back).then(function (undone) {
            showToast(undone.status === 200 ? say("movedBack") : undone.body.error);
            calendar.refetchEvents();
          });
        });
        if (scope !== "this") calendar.refetchEvents();
      });
    });
  }

  var toastTimer = null;
  function showToast(text, undo) {
    toast.querySelector(".portfolio-toast__text").textContent = text;
    var button = toast.querySelector(".portfolio-toast__undo");
    button.hidden = !undo;
    button.onclick = undo
      ? function () {
          toast.hidden = true;
          undo();
        }
      : null;
    toast.hidden = false;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(function () {
      toast.hidden = true;
    }, undo ? 8000 : 5000);
  }

  dialog.querySelector("[data-action=edit]").addEventListener("click", function () {
    var opened = current.opened;
    openEditor({
      title: opened.event.title,
      location: opened.event.location,
      description: opened.event.description,
      start: opened.event.start,
      end: opened.event.end,
      allDay: opened.event.allDay,
    });
  });
  dialog.querySelector("[data-action=delete]").addEventListener("click", openRemove);
  dialog.querySelectorAll("[data-reply]").forEach(function (button) {
    button.addEventListener("click", function () {
      sendReply(button.dataset.reply);
    });
  });
  dialog.querySelectorAll("[data-action=cancel]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (current.creating) closePanel();
      else showMode("view");
    });
  });
  editForm.addEventListener("submit", saveEditor);
  removeForm.addEventListener("submit", confirmRemove);
  editForm.elements.all_day.addEventListener("change", function () {
    setAllDay(editForm.elements.all_day.checked);
  });

  // The month ----------------------------------------------------------------------------------

  // A month is a table of ours inside FullCalendar (a view of our own over its dates and events):
  // FullCalendar's day grid measured each week's events as it laid them out, over 100 ms of a
  // busy month's main thread at every visit. This table is laid out by CSS alone, once, and
  // nothing in it is measured; FullCalendar keeps the toolbar, the dates, the reads and the other
  // views. A day shows what monthEvents left it (a few events and "+N more"); an event over
  // several days shows on each of them.
  var MONTH_VIEW = VIEWS.month;
  var DAY_MS = 24 * 3600 * 1000;
  // A touch held this long on an event picks it up; a shorter one scrolls or opens it.
  var LONG_PRESS = 400;
  var calendarElement = document.getElementById("portfolio-calendar");

  // FullCalendar hands a view its dates as the page zone's wall time written in UTC: read in UTC.
  function wallFormat(options) {
    return new Intl.DateTimeFormat(LANGUAGE, Object.assign({ timeZone: "UTC" }, options));
  }
  var MONTH_FORMATS = {
    weekday: wallFormat({ weekday: "short" }),
    narrowWeekday: wallFormat({ weekday: "narrow" }),
    longWeekday: wallFormat({ weekday: "long" }),
    number: wallFormat({ day: "numeric" }),
    date: wallFormat({ weekday: "long", day: "numeric", month: "long", year: "numeric" }),
    title: wallFormat({ month: "long", year: "numeric" }),
    time: wallFormat({
      hour: config.clock === 12 ? "numeric" : "2-digit",
      minute: "2-digit",
      hourCycle: config.clock === 12 ? "h12" : "h23",
    }),
  };

  // What the table was drawn from (redrawn only when one of them changes), the month it shows,
  // the day that takes the keyboard's focus in it, each event button's event, a drag under way.
  var month = { drawn: null, nodes: null, shown: null, focusDay: null, items: new WeakMap(), drag: null, dragEnded: false };

  function isoDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function plusDays(day, count) {
    return isoDay(Date.parse(day + "T00:00:00Z") + count * DAY_MS);
  }

  // The month view's content: the table for FullCalendar's dates and events (``props``).
  function drawMonth(props) {
    var drawn = {
      store: props.eventStore,
      uis: props.eventUiBases,
      profile: props.dateProfile,
      key: [zone, dayKey(Date.now()), PHONE.matches].join(" "),
    };
    var last = month.drawn;
    if (last && last.store === drawn.store && last.uis === drawn.uis && last.profile === drawn.profile && last.key === drawn.key) {
      return { domNodes: month.nodes };
    }
    var focused = focusedInMonth();
    month.drawn = drawn;
    month.nodes = monthTable(props);
    if (focused) {
      // After FullCalendar has put the new table in place of the old one.
      Promise.resolve().then(function () {
        refocus(focused);
      });
    }
    return { domNodes: month.nodes };
  }

  // Where the keyboard's focus is in the table, to be given back after a redraw: a day (the one
  // the keyboard went to), or an event or "+N more" of a day.
  function focusedInMonth() {
    var table = month.nodes && month.nodes[0];
    var active = document.activeElement;
    if (!table || !active || !table.contains(active)) return null;
    if (active.tagName === "TD") return { day: null };
    var cell = active.closest("td");
    return { day: cell && cell.dataset.date, eventId: active.dataset.eventId, more: active.classList.contains("pf-month__more") };
  }

  function refocus(focused) {
    var table = month.nodes[0];
    var cell = table.querySelector('td[data-date="' + (focused.day || month.focusDay) + '"]');
    var target = cell;
    if (cell && focused.eventId) target = cell.querySelector('[data-event-id="' + CSS.escape(focused.eventId) + '"]') || cell;
    else if (cell && focused.more) target = cell.querySelector(".pf-month__more") || cell;
    target = target || table.querySelector('td[tabindex="0"]');
    if (target) target.focus();
  }

  // Each day's events (FullCalendar's, cut to the shown dates), in the order a day lists them:
  // those over several days first (so that they keep one row from day to day as far as they
  // can), then by start, all-day ones first, longer first, by title; "+N more" last.
  function monthDays(props) {
    var days = {};
    window.FullCalendar.sliceEvents(props, true).forEach(function (seg) {
      var range = seg.instance.range;
      var entry = {
        seg: seg,
        more: seg.def.extendedProps.more ? 1 : 0,
        spans: seg.range.end - seg.range.start > DAY_MS ? 1 : 0,
        start: range.start.valueOf(),
        length: range.end - range.start,
      };
      for (var t = seg.range.start.valueOf(); t < seg.range.end.valueOf(); t += DAY_MS) {
        var day = isoDay(t);
        (days[day] = days[day] || []).push(entry);
      }
    });
    Object.keys(days).forEach(function (day) {
      days[day].sort(function (a, b) {
        return (
          a.more - b.more ||
          b.spans - a.spans ||
          a.start - b.start ||
          Number(b.seg.def.allDay) - Number(a.seg.def.allDay) ||
          b.length - a.length ||
          (a.seg.def.title < b.seg.def.title ? -1 : a.seg.def.title > b.seg.def.title ? 1 : 0)
        );
      });
    });
    return days;
  }

  function monthTable(props) {
    var profile = props.dateProfile;
    var first = profile.activeRange.start.valueOf();
    var end = profile.activeRange.end.valueOf();
    var monthFirst = isoDay(profile.currentRange.start.valueOf());
    var monthEnd = isoDay(profile.currentRange.end.valueOf());
    var today = dayKey(Date.now());
    var days = monthDays(props);
    // The day the keyboard comes back to: kept while shown (in another month, only if it is of
    // that month), else today or the month's first.
    var keep = month.focusDay || "";
    var within = month.shown === monthFirst ? keep >= isoDay(first) && keep < isoDay(end) : keep >= monthFirst && keep < monthEnd;
    if (!within) month.focusDay = today >= monthFirst && today < monthEnd ? today : monthFirst;
    month.shown = monthFirst;
    month.items = new WeakMap();

    var table = element("table", "pf-month");
    table.setAttribute("role", "grid");
    table.setAttribute("aria-describedby", "pf-month-help");
    var caption = element("caption", "sr-only", MONTH_FORMATS.title.format(profile.currentRange.start));
    table.append(caption);
    var head = table.createTHead().insertRow();
    var weekday = PHONE.matches ? MONTH_FORMATS.narrowWeekday : MONTH_FORMATS.weekday;
    for (var column = 0; column < 7; column++) {
      var date = new Date(first + column * DAY_MS);
      var header = element("th", "pf-month__weekday");
      header.scope = "col";
      var short = element("span", "", weekday.format(date));
      short.setAttribute("aria-hidden", "true");
      header.append(short, element("span", "sr-only", MONTH_FORMATS.longWeekday.format(date)));
      head.append(header);
    }
    var body = table.createTBody();
    var row = null;
    for (var t = first; t < end; t += DAY_MS) {
      if ((t - first) % (7 * DAY_MS) === 0) row = body.insertRow();
      var day = isoDay(t);
      row.append(dayCell(day, t, days[day] || [], day === today, day < monthFirst || day >= monthEnd));
    }
    var help = element("p", "sr-only", say("monthKeys") + (writable.size ? " " + say("monthAdd") : ""));
    help.id = "pf-month-help";
    return [table, help];
  }

  function dayCell(day, wall, entries, isToday, outside) {
    var cell = element("td", "pf-month__day" + (outside ? " is-other" : "") + (isToday ? " is-today" : ""));
    cell.dataset.date = day;
    cell.tabIndex = day === month.focusDay ? 0 : -1;
    if (isToday) cell.setAttribute("aria-current", "date");
    var name = MONTH_FORMATS.date.format(wall);
    var date = element("div", "pf-month__date");
    var number = element("span", "pf-month__number", MONTH_FORMATS.number.format(wall));
    number.setAttribute("aria-hidden", "true");
    date.append(number, element("span", "sr-only", name));
    cell.append(date);
    entries.forEach(function (entry) {
      cell.append(entry.more ? moreButton(entry.seg.def, name) : eventButton(entry, wall));
    });
    return cell;
  }

  function moreButton(def, dayName) {
    var button = element("button", "pf-month__more", def.title);
    button.type = "button";
    button.dataset.more = def.extendedProps.more;
    button.setAttribute("aria-label", say("moreOnDay", { count: def.extendedProps.count, day: dayName }));
    return button;
  }

  // An event on one day of the month: its start time on its first day, its title and marks, in
  // its calendar's colour; named for screen readers as shown, then its calendars and what it is.
  function eventButton(entry, wall) {
    var seg = entry.seg;
    var item = seg.def.extendedProps.source;
    var ui = seg.ui;
    var button = element("button", ["pf-month__event"].concat(ui.classNames).join(" "));
    button.type = "button";
    button.style.backgroundColor = ui.backgroundColor;
    button.style.borderColor = ui.borderColor;
    button.style.color = ui.textColor;
    button.dataset.eventId = item.id;
    button.dataset.calendars = calendarNames(item);
    if (writableRef(item)) button.dataset.movable = "";
    button.setAttribute("aria-haspopup", "dialog");
    button.title = seg.def.title + " · " + calendarNames(item) + (item.conflict ? " · " + say("conflictNote") : "");
    var text = element("span", "pf-month__text");
    if (!seg.def.allDay && entry.start >= wall && entry.start < wall + DAY_MS) {
      text.append(element("span", "pf-month__time", MONTH_FORMATS.time.format(entry.start)), " ");
    }
    text.append(element("span", "pf-month__title", seg.def.title));
    eventMarks(item).forEach(function (mark) {
      text.append(" ", mark);
    });
    button.append(text);
    var notes = [seg.def.allDay ? say("allDayShort") : "", calendarNames(item)];
    if (item.conflict) notes.push(say("conflictNote"));
    if (item.declined) notes.push(say("declined"));
    if (item.tentative) notes.push(say("tentative"));
    if (item.free) notes.push(say("free"));
    button.setAttribute("aria-label", [text.textContent].concat(notes.filter(Boolean)).join(", "));
    month.items.set(button, item);
    return button;
  }

  function inMonth(target) {
    var table = month.nodes && month.nodes[0];
    return Boolean(table && target instanceof Element && table.contains(target));
  }

  // A click on an event opens it, on "+N more" opens its day, on a day's free space adds an
  // all-day event that day (as selecting a day did in FullCalendar's month).
  function monthClick(event) {
    if (!inMonth(event.target)) return;
    if (month.dragEnded) return;
    var more = event.target.closest(".pf-month__more");
    if (more) {
      calendar.changeView("timeGridDay", more.dataset.more);
      return;
    }
    var button = event.target.closest(".pf-month__event");
    if (button) {
      openDetails(month.items.get(button));
      return;
    }
    var cell = event.target.closest("td[data-date]");
    if (cell && writable.size) openCreate(cell.dataset.date, plusDays(cell.dataset.date, 1), true);
  }

  // The keyboard on a day: arrows go from day to day (and on to the next or previous month),
  // Home and End to the week's ends, Page Up and Down a month; Enter or Space adds an event.
  function monthKey(event) {
    var cell = event.target;
    if (!inMonth(cell) || cell.tagName !== "TD" || event.altKey || event.ctrlKey || event.metaKey) return;
    var day = cell.dataset.date;
    var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -7, ArrowDown: 7, Home: -cell.cellIndex, End: 6 - cell.cellIndex };
    var next = null;
    var otherMonth = event.key === "PageUp" || event.key === "PageDown";
    if (steps[event.key] !== undefined) next = plusDays(day, steps[event.key]);
    else if (otherMonth) {
      next = DateTime.fromISO(day, { zone: "UTC" })
        .plus({ months: event.key === "PageUp" ? -1 : 1 })
        .toISODate();
    } else if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      if (writable.size) openCreate(day, plusDays(day, 1), true);
      return;
    } else return;
    event.preventDefault();
    focusDay(next, otherMonth);
  }

  function focusDay(day, otherMonth) {
    var table = month.nodes[0];
    var cell = table.querySelector('td[data-date="' + day + '"]');
    month.focusDay = day;
    if (!cell || otherMonth) {
      // The month of that day, drawn with the day focused.
      calendar.gotoDate(day);
      return;
    }
    var before = table.querySelector('td[tabindex="0"]');
    if (before) before.tabIndex = -1;
    cell.tabIndex = 0;
    cell.focus();
  }

  function monthFocus(event) {
    if (!inMonth(event.target) || event.target.tagName !== "TD" || event.target.tabIndex === 0) return;
    var before = month.nodes[0].querySelector('td[tabindex="0"]');
    if (before) before.tabIndex = -1;
    event.target.tabIndex = 0;
    month.focusDay = event.target.dataset.date;
  }

  // Dragging an event to another day moves it by whole days: the same time of day and length,
  // sent as FullCalendar's drops are (moved), with its undo. A mouse or pen drags at once; a
  // finger holds the event a moment first (LONG_PRESS), so that a swipe still scrolls the page.
  function monthPointerDown(event) {
    if (month.drag || event.button !== 0 || !inMonth(event.target)) return;
    var button = event.target.closest(".pf-month__event[data-movable]");
    if (!button) return;
    var drag = {
      button: button,
      item: month.items.get(button),
      from: button.closest("td").dataset.date,
      pointer: event.pointerId,
      touch: event.pointerType === "touch",
      x: event.clientX,
      y: event.clientY,
      active: false,
      over: null,
      ghost: null,
      timer: null,
    };
    month.drag = drag;
    if (drag.touch) {
      drag.timer = window.setTimeout(function () {
        pickUp(drag, drag.x, drag.y);
      }, LONG_PRESS);
    }
    document.addEventListener("pointermove", dragMove);
    document.addEventListener("pointerup", dragEnd);
    document.addEventListener("pointercancel", dragCancel);
    document.addEventListener("keydown", dragKey, true);
  }

  function pickUp(drag, x, y) {
    if (month.drag !== drag || drag.active) return;
    drag.active = true;
    var box = drag.button.getBoundingClientRect();
    var ghost = drag.button.cloneNode(true);
    ghost.classList.add("pf-month__ghost");
    ghost.setAttribute("aria-hidden", "true");
    ghost.removeAttribute("data-event-id");
    ghost.style.width = box.width + "px";
    drag.offset = { x: drag.x - box.left, y: drag.y - box.top };
    drag.ghost = ghost;
    root.append(ghost);
    drag.button.classList.add("is-dragged");
    root.classList.add("is-dragging");
    follow(drag, x, y);
  }

  function follow(drag, x, y) {
    drag.ghost.style.transform = "translate(" + (x - drag.offset.x) + "px, " + (y - drag.offset.y) + "px)";
    var under = document.elementFromPoint(x, y);
    var cell = under && inMonth(under) ? under.closest("td[data-date]") : null;
    if (cell === drag.over) return;
    if (drag.over) drag.over.classList.remove("is-drop-target");
    drag.over = cell;
    if (cell) cell.classList.add("is-drop-target");
  }

  function dragMove(event) {
    var drag = month.drag;
    if (!drag || event.pointerId !== drag.pointer) return;
    if (!drag.active) {
      var far = Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) > (drag.touch ? 10 : 4);
      if (!far) return;
      // A finger that moves before the event is held is scrolling the page.
      if (drag.touch) {
        dropDrag(false);
        return;
      }
      pickUp(drag, event.clientX, event.clientY);
    }
    follow(drag, event.clientX, event.clientY);
  }

  function dragEnd(event) {
    if (month.drag && event.pointerId === month.drag.pointer) dropDrag(true);
  }

  function dragCancel(event) {
    if (month.drag && event.pointerId === month.drag.pointer) dropDrag(false);
  }

  function dragKey(event) {
    if (event.key !== "Escape" || !month.drag) return;
    event.preventDefault();
    event.stopPropagation();
    dropDrag(false);
  }

  function dropDrag(keep) {
    var drag = month.drag;
    month.drag = null;
    window.clearTimeout(drag.timer);
    document.removeEventListener("pointermove", dragMove);
    document.removeEventListener("pointerup", dragEnd);
    document.removeEventListener("pointercancel", dragCancel);
    document.removeEventListener("keydown", dragKey, true);
    if (!drag.active) return;
    drag.ghost.remove();
    drag.button.classList.remove("is-dragged");
    root.classList.remove("is-dragging");
    if (drag.over) drag.over.classList.remove("is-drop-target");
    // The click that ends a drag is not a click on the event or the day under it.
    month.dragEnded = true;
    window.setTimeout(function () {
      month.dragEnded = false;
    }, 0);
    if (!keep || !drag.over) return;
    var days = Math.round((Date.parse(drag.over.dataset.date) - Date.parse(drag.from)) / DAY_MS);
    if (days) moveByDays(drag.item, days);
  }

  function moveByDays(item, days) {
    var shown = calendar.getEventById(item.id);
    if (!shown) return;
    var before = { allDay: shown.allDay, startStr: shown.startStr, endStr: shown.endStr };
    shown.moveDates({ days: days });
    moved({
      event: shown,
      oldEvent: before,
      revert: function () {
        shown.moveDates({ days: -days });
      },
    });
  }

  calendarElement.addEventListener("click", monthClick);
  calendarElement.addEventListener("keydown", monthKey);
  calendarElement.addEventListener("focusin", monthFocus);
  calendarElement.addEventListener("pointerdown", monthPointerDown);
  // A held event follows the finger instead of the page scrolling; its menu does not open.
  calendarElement.addEventListener(
    "touchmove",
    function (event) {
      if (month.drag && month.drag.active) event.preventDefault();
    },
    { passive: false }
  );
  calendarElement.addEventListener("contextmenu", function (event) {
    if (month.drag && month.drag.touch) event.preventDefault();
  });

  // FullCalendar's month for the dates (six whole weeks from the user's first day), ours to draw.
  var monthViews = {};
  monthViews[MONTH_VIEW] = { type: "dayGridMonth", content: drawMonth, classNames: ["pf-month-view"] };
  var monthPlugin = window.FullCalendar.createPlugin({ name: "multical-month", views: monthViews });

  // The calendar -----------------------------------------------------------------------------

  // FullCalendar's chevrons are images without a name; their buttons are named (buttonHints).
  function quietIcons(root) {
    root.querySelectorAll(".fc-icon[role='img']").forEach(function (icon) {
      icon.removeAttribute("role");
      icon.setAttribute("aria-hidden", "true");
    });
  }

  // What every view shows beside an event's title: booking, block, the dots of its calendars.
  function eventMarks(item) {
    var marks = [];
    if (item.booking) marks.push(element("span", "pf-badge", say("booking")));
    if (item.block) marks.push(element("span", "pf-badge", item.rule ? say("blockShort", { rule: item.rule }) : say("block")));
    if (item.calendars.length > 1) {
      var dots = element("span", "pf-event__calendars");
      dots.title = calendarNames(item);
      item.calendars.forEach(function (c) {
        var dot = element("span", "pf-dot");
        dot.style.backgroundColor = colors[c.id] || c.color;
        dots.append(dot);
      });
      marks.push(dots);
    }
    return marks;
  }

  function renderContent(arg) {
    var item = arg.event.extendedProps.source;
    // The time being selected for a new event: FullCalendar's own rendering.
    if (!item) return true;
    var box = element("div", "pf-event");
    if (arg.timeText && !arg.event.allDay) box.append(element("span", "pf-event__time", arg.timeText));
    box.append(element("span", "pf-event__title", arg.event.title));
    box.append.apply(box, eventMarks(item));
    return { domNodes: [box] };
  }

  function rememberState(view) {
    var state = new URLSearchParams(window.location.search);
    state.set("view", VIEW_NAMES[view.type] || "days");
    state.set("date", DateTime.fromJSDate(view.calendar.getDate(), { zone: zone }).toISODate());
    if (zone !== config.timeZone) state.set("tz", zone);
    else state.delete("tz");
    window.history.replaceState(null, "", "?" + state.toString());
  }

  // Time grids scroll inside themselves (starting an hour before now); the others grow.
  function heightFor(viewType) {
    if (viewType.indexOf("timeGrid") !== 0) return "auto";
    return Math.max(PHONE.matches ? 480 : 560, Math.round(window.innerHeight * (PHONE.matches ? 0.7 : 0.8)));
  }

  function toolbars() {
    return PHONE.matches
      ? {
          header: { left: "prev,next", center: "title", right: "today" },
          footer: { left: "timeGridDay,listSevenDays," + MONTH_VIEW },
        }
      : {
          header: {
            left: "prev,next today",
            center: "title",
            right: "timeGridDay,timeGridSevenDays,timeGridWeek," + MONTH_VIEW + ",listSevenDays",
          },
          footer: false,
        };
  }

  var initialDate = params.get("date");
  // A first visit shows the coming days from today (on a Sunday: the week ahead, not the past one).
  var initialView = VIEWS[params.get("view")] || (PHONE.matches ? "listSevenDays" : "timeGridSevenDays");
  var bars = toolbars();
  var calendar = new window.FullCalendar.Calendar(calendarElement, {
    plugins: [monthPlugin],
    timeZone: zone,
    locale: LANGUAGE,
    firstDay: config.firstDay === undefined ? 1 : config.firstDay,
    initialView: initialView,
    initialDate: /^\d{4}-\d{2}-\d{2}$/.test(initialDate || "") ? initialDate : undefined,
    headerToolbar: bars.header,
    footerToolbar: bars.footer,
    // Chevrons for previous and next (named for screen readers), so the toolbar fits one row.
    buttonText: { today: say("today") },
    buttonHints: { prev: say("previous"), next: say("next"), today: say("backToToday") },
    allDayText: say("allDayShort"),
    viewHint: say("viewHint", { view: "$0" }),
    navLinkHint: say("navLinkHint", { date: "$0" }),
    closeHint: say("close"),
    eventHint: say("eventHint"),
    timeHint: say("timeHint"),
    views: {
      timeGridDay: { buttonText: say("day") },
      timeGridSevenDays: { type: "timeGrid", duration: { days: 7 }, buttonText: say("sevenDays"), displayEventEnd: false },
      // Start times only: short events keep room for their titles.
      timeGridWeek: { buttonText: say("week"), displayEventEnd: false },
      monthGrid: { buttonText: say("month") },
      listSevenDays: { type: "list", duration: { days: 7 }, buttonText: say("agenda") },
    },
    // On a phone seven columns get a letter and a number each ("M 7"), so headers never overlap.
    dayHeaderFormat: PHONE.matches ? { weekday: "narrow", day: "numeric" } : undefined,
    height: heightFor(initialView),
    // Coloured blocks in every view (month view would show timed events as dots and text).
    eventDisplay: "block",
    nowIndicator: true,
    allDaySlot: true,
    slotEventOverlap: false,
    scrollTime: DateTime.now().setZone(zone).minus({ hours: 1 }).toFormat("HH:00:00"),
    // 14:30 or 2:30pm; the grid's hours as 14:00 or 2pm.
    eventTimeFormat: config.clock === 12
      ? { hour: "numeric", minute: "2-digit", meridiem: "short" }
      : { hour: "2-digit", minute: "2-digit", hour12: false },
    slotLabelFormat: config.clock === 12
      ? { hour: "numeric", minute: "2-digit", omitZeroMinute: true, meridiem: "short" }
      : { hour: "2-digit", minute: "2-digit", hour12: false },
    noEventsContent: say("noEvents"),
    events: loadEvents,
    eventContent: renderContent,
    // "+N more" after a day's events.
    eventOrder: "order,start,-duration,allDay,title",
    // Acting on events: where the provider can write (each event says, see toCalendarEvent).
    editable: true,
    selectable: writable.size > 0,
    selectMirror: true,
    longPressDelay: LONG_PRESS,
    // A drag keeps an event timed or all-day: changing that is an edit in the panel.
    eventAllow: function (dropInfo, dragged) {
      return dropInfo.allDay === dragged.allDay;
    },
    eventDrop: moved,
    eventResize: moved,
    select: function (info) {
      calendar.unselect();
      var start = info.allDay ? info.startStr.slice(0, 10) : info.startStr;
      var end = info.allDay ? info.endStr.slice(0, 10) : info.endStr;
      openCreate(start, end, info.allDay);
    },
    eventsSet: function () {
      showConflicts();
    },
    eventDidMount: function (arg) {
      var item = arg.event.extendedProps.source;
      var moreDay = arg.event.extendedProps.more;
      if (moreDay) {
        arg.el.tabIndex = 0;
        arg.el.setAttribute("role", "button");
        arg.el.setAttribute("aria-label", say("moreOnDay", { count: arg.event.extendedProps.count, day: moreDay }));
        arg.el.addEventListener("keydown", function (event) {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            calendar.changeView("timeGridDay", moreDay);
          }
        });
        return;
      }
      if (!item) return;
      arg.el.dataset.eventId = item.id;
      arg.el.dataset.calendars = calendarNames(item);
      arg.el.title = (arg.event.title || "") + " · " + calendarNames(item) + (item.conflict ? " · " + say("conflictNote") : "");
      // Reachable and opened with the keyboard alone, as with a click.
      if (!arg.el.hasAttribute("tabindex")) arg.el.tabIndex = 0;
      arg.el.setAttribute("role", "button");
      arg.el.setAttribute("aria-haspopup", "dialog");
      arg.el.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          openDetails(item);
        }
      });
    },
    eventClick: function (arg) {
      arg.jsEvent.preventDefault();
      if (arg.event.extendedProps.more) {
        calendar.changeView("timeGridDay", arg.event.extendedProps.more);
        return;
      }
      openDetails(arg.event.extendedProps.source);
    },
    loading: function (busy) {
      root.classList.toggle("is-loading", busy);
      if (busy) setStatus(say("loading"));
    },
    datesSet: function (arg) {
      quietIcons(arg.view.calendar.el);
      var wantMonth = arg.view.type === MONTH_VIEW;
      if (calendar && loaded && loaded.month !== wantMonth && covers(loaded, arg.start, arg.end)) {
        reuseLoaded = true;
        calendar.refetchEvents();
      }
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

  PHONE.addEventListener("change", function () {
    var next = toolbars();
    calendar.setOption("headerToolbar", next.header);
    calendar.setOption("footerToolbar", next.footer);
    calendar.setOption("dayHeaderFormat", PHONE.matches ? { weekday: "narrow", day: "numeric" } : undefined);
    quietIcons(calendar.el);
  });
  searchBox.addEventListener("input", applyFilters);
  conflictsOnly.addEventListener("change", function () {
    applyFilters();
    showConflicts();
  });
  var newButton = document.getElementById("portfolio-new");
  if (newButton) {
    newButton.addEventListener("click", function () {
      var start = DateTime.now().setZone(zone).plus({ hours: 1 }).startOf("hour");
      openCreate(start.toISO(), start.plus({ hours: 1 }).toISO(), false);
    });
  }

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

  // Calendars: colour, visibility, name, declined events, blocks ---------------------------------

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
          if (!response.ok) throw new Error(say("notSaved"));
          return response.json();
        })
        .then(function (saved) {
          if (field.name === "color") {
            colors[saved.id] = saved.color;
            // One drawing for all the changes ("+N more" has no calendar of its own).
            calendar.batchRendering(function () {
              calendar.getEvents().forEach(function (shown) {
                var item = shown.extendedProps.source;
                if (item && item.calendars[0].id === saved.id) {
                  shown.setProp("backgroundColor", saved.color);
                  shown.setProp("borderColor", saved.color);
                  shown.setProp("textColor", textColor(saved.color));
                }
              });
            });
            renderUpNext();
          } else {
            form.querySelector(".calendar-preference__name").textContent = saved.name;
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

  // The calendar's first drawing in a task of its own, after the scripts' (a long task together).
  nextTask().then(function () {
    calendar.render();
  });
  window.setInterval(renderUpNext, 60 * 1000);
})();
