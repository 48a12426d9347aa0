// The booking page form, quicker with a script; without one it still works on its blank rows,
// Position fields, Remove boxes and Save. With it: periods, dates and questions are added and
// removed in place (a saved date or question is marked for removal, with an undo until the form
// is saved), questions move up and down, the calendars to check are disabled while all calendars
// count, and a preview of the page follows the form (booking.views.page_draft_preview).
// Every word shown comes from the page, in the owner's language.
(function () {
  "use strict";
  var form = document.getElementById("page-form");
  if (!form) return;
  var rowsMade = 0;

  // A row made from a <template>, each placeholder replaced (Django's __prefix__, our __row__).
  function fromTemplate(template, replacements) {
    var html = template.innerHTML;
    Object.keys(replacements).forEach(function (placeholder) {
      html = html.split(placeholder).join(replacements[placeholder]);
    });
    var holder = document.createElement(template.dataset.periodTemplate !== undefined ? "ul" : "div");
    holder.innerHTML = html.trim();
    return holder.firstElementChild;
  }

  // What serves browsers without scripts goes; the buttons that replace it come.
  function enhance(root) {
    root.querySelectorAll("[data-spare]").forEach(function (spare) {
      spare.remove();
    });
    root.querySelectorAll("[data-js-only]").forEach(function (control) {
      control.hidden = false;
    });
    root.querySelectorAll("[data-delete-field], [data-order-field]").forEach(function (field) {
      field.hidden = true;
    });
  }

  function firstField(root) {
    return root.querySelector("input:not([type=hidden]), select, textarea");
  }

  // Periods ---------------------------------------------------------------------------------------

  function addPeriod(periods) {
    var template = periods.querySelector(":scope > template[data-period-template]");
    rowsMade += 1;
    var row = fromTemplate(template, { __row__: "new" + rowsMade });
    periods.querySelector(":scope > [data-period-rows]").appendChild(row);
    enhance(row);
    firstField(row).focus();
  }

  function removePeriod(row) {
    var periods = row.closest("[data-periods]");
    row.remove();
    periods.querySelector(":scope > [data-add-period]").focus();
  }

  // Formsets: dates and questions ----------------------------------------------------------------

  function management(prefix, name) {
    return form.querySelector("#id_" + prefix + "-" + name);
  }

  function liveRows(rows) {
    return Array.prototype.filter.call(rows.children, function (row) {
      return row.matches("[data-formset-row]") && !row.querySelector("[data-removed-note]:not([hidden])");
    });
  }

  function addFormRow(prefix) {
    var total = management(prefix, "TOTAL_FORMS");
    var rows = form.querySelector('[data-formset="' + prefix + '"]');
    var template = form.querySelector('template[data-formset-template="' + prefix + '"]');
    var index = parseInt(total.value, 10);
    var row = fromTemplate(template, { __prefix__: String(index) });
    rows.appendChild(row);
    total.value = String(index + 1);
    enhance(row);
    renumber(rows);
    limitRows(prefix);
    firstField(row).focus();
  }

  // A saved row is kept, its Remove box ticked and its fields folded behind an undo; a new one
  // goes (the formset takes a missing extra row for an empty one).
  function removeFormRow(row) {
    var rows = row.parentElement;
    var prefix = rows.dataset.formset;
    var box = row.querySelector("[data-delete-field] input[type=checkbox]");
    if (box) {
      box.checked = true;
      row.querySelector("[data-row-body]").hidden = true;
      var note = row.querySelector("[data-removed-note]");
      note.hidden = false;
      note.querySelector("[data-formset-undo]").focus();
    } else {
      row.remove();
      form.querySelector('[data-formset-add="' + prefix + '"]').focus();
    }
    renumber(rows);
    limitRows(prefix);
  }

  function undoRemoval(row) {
    row.querySelector("[data-delete-field] input[type=checkbox]").checked = false;
    row.querySelector("[data-row-body]").hidden = false;
    row.querySelector("[data-removed-note]").hidden = true;
    row.querySelector("[data-formset-remove]").focus();
    renumber(row.parentElement);
    limitRows(row.parentElement.dataset.formset);
  }

  // Once the blank spare rows are gone, the formset counts up to its last row left, so that the
  // rows added next take the numbers after it.
  function dropTrailingSpares(prefix) {
    var numbered = new RegExp("^" + prefix + "-(\\d+)-");
    var last = parseInt(management(prefix, "INITIAL_FORMS").value, 10) - 1;
    form.querySelectorAll('[data-formset="' + prefix + '"] [name^="' + prefix + '-"]').forEach(
      function (field) {
        var match = numbered.exec(field.name);
        if (match) last = Math.max(last, parseInt(match[1], 10));
      }
    );
    management(prefix, "TOTAL_FORMS").value = String(last + 1);
  }

  // No more rows than the formset takes (MAX_NUM_FORMS).
  function limitRows(prefix) {
    var rows = form.querySelector('[data-formset="' + prefix + '"]');
    var most = parseInt(management(prefix, "MAX_NUM_FORMS").value, 10);
    form.querySelector('[data-formset-add="' + prefix + '"]').disabled = liveRows(rows).length >= most;
  }

  // Questions are ordered as they stand: their hidden ORDER fields follow the rows.
  function renumber(rows) {
    if (!rows.hasAttribute("data-ordered")) return;
    liveRows(rows).forEach(function (row, position) {
      var order = row.querySelector('input[name$="-ORDER"]');
      if (order) order.value = String(position + 1);
    });
  }

  function move(row, direction) {
    var rows = row.parentElement;
    var live = liveRows(rows);
    var at = live.indexOf(row);
    var other = live[at + (direction === "up" ? -1 : 1)];
    if (!other) return;
    if (direction === "up") rows.insertBefore(row, other);
    else rows.insertBefore(other, row);
    renumber(rows);
    row.querySelector('[data-move="' + direction + '"]').focus();
  }

  // The calendars to check -------------------------------------------------------------------------

  var busyCalendars = form.querySelector("[data-busy-calendars]");
  function followBusyChoice() {
    var all = form.querySelector('input[name="busy_in_all_calendars"][value="all"]');
    if (busyCalendars && all) {
      busyCalendars.disabled = all.checked;
      if (all.checked) busyCalendars.setAttribute("aria-describedby", "busy-calendars-all");
      else busyCalendars.removeAttribute("aria-describedby");
    }
  }

  // The preview -----------------------------------------------------------------------------------

  var panel = document.querySelector("[data-preview-panel]");
  var details = panel && panel.querySelector("details");
  var body = panel && panel.querySelector("[data-preview-body]");
  var status = panel && panel.querySelector("[data-preview-status]");
  var wide = window.matchMedia("(min-width: 1100px)");
  var timer = null;
  var asking = null;
  var pausedUntil = 0;

  function showNote(name) {
    body.innerHTML = panel.querySelector("template[data-preview-" + name + "]").innerHTML;
  }

  function refresh() {
    timer = null;
    if (!details.open) return;
    var wait = pausedUntil - Date.now();
    if (wait > 0) {
      timer = window.setTimeout(refresh, wait);
      return;
    }
    if (asking) asking.abort();
    var controller = new AbortController();
    asking = controller;
    var data = new FormData(form);
    body.setAttribute("aria-busy", "true");
    fetch(form.dataset.previewUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") || "" },
      signal: controller.signal,
    })
      .then(function (response) {
        if (response.status === 429) {
          var seconds = parseInt(response.headers.get("Retry-After"), 10) || 60;
          pausedUntil = Date.now() + seconds * 1000;
          showNote("slowed");
          later(seconds * 1000);
          return;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text().then(function (html) {
          body.innerHTML = html;
          var summary = body.querySelector("[data-preview-summary]");
          if (status && summary) status.textContent = summary.textContent.trim();
        });
      })
      .catch(function (error) {
        if (error.name !== "AbortError") showNote("failed");
      })
      .finally(function () {
        if (asking === controller) {
          asking = null;
          body.removeAttribute("aria-busy");
        }
      });
  }

  // Asks again once the owner pauses: every change restarts the wait.
  function later(wait) {
    if (!details) return;
    if (timer) window.clearTimeout(timer);
    timer = window.setTimeout(refresh, wait === undefined ? 300 : wait);
  }

  // Wiring ----------------------------------------------------------------------------------------

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button)) return;
    var row = button.closest("[data-formset-row]");
    if (button.matches("[data-add-period]")) addPeriod(button.closest("[data-periods]"));
    else if (button.matches("[data-remove-period]")) removePeriod(button.closest("[data-period]"));
    else if (button.matches("[data-formset-add]")) addFormRow(button.dataset.formsetAdd);
    else if (button.matches("[data-formset-remove]")) removeFormRow(row);
    else if (button.matches("[data-formset-undo]")) undoRemoval(row);
    else if (button.matches("[data-move]")) move(row, button.dataset.move);
    else return;
    later();
  });
  form.addEventListener("input", function () {
    later();
  });
  form.addEventListener("change", function (event) {
    if (event.target.name === "busy_in_all_calendars") followBusyChoice();
    later();
  });

  enhance(form);
  // A row marked for removal before the form came back with an error stays folded.
  form.querySelectorAll("[data-delete-field] input[type=checkbox]:checked").forEach(function (box) {
    var row = box.closest("[data-formset-row]");
    row.querySelector("[data-row-body]").hidden = true;
    row.querySelector("[data-removed-note]").hidden = false;
  });
  form.querySelectorAll("[data-formset]").forEach(function (rows) {
    dropTrailingSpares(rows.dataset.formset);
    renumber(rows);
    limitRows(rows.dataset.formset);
  });
  followBusyChoice();
  if (panel) {
    panel.hidden = false;
    details.open = wide.matches;
    wide.addEventListener("change", function (event) {
      if (event.matches) details.open = true;
    });
    details.addEventListener("toggle", function () {
      if (details.open) later(0);
    });
    later(0);
  }
})();
