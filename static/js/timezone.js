// Fills the sign-up form's hidden time-zone field with the browser's own zone.
(function () {
  "use strict";
  var field = document.querySelector('input[name="time_zone"]');
  if (!field || field.value) return;
  try {
    field.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    // Older browsers: the server falls back to UTC, and Settings lets the user change it.
  }
})();
