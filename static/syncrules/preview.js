// The rule form's Preview button: fetch the preview fragment and show it under the form, in place
// of submitting the whole page (which is what happens without this script).
(function () {
  "use strict";
  var button = document.querySelector("button[data-preview]");
  var target = document.getElementById("rule-preview");
  if (!button || !target || !window.fetch || !window.FormData) return;
  var form = button.form;
  var label = button.textContent;

  button.addEventListener("click", function (event) {
    event.preventDefault();
    var data = new FormData(form);
    var token = data.get("csrfmiddlewaretoken") || "";
    button.disabled = true;
    button.textContent = button.dataset.busyLabel || label;
    target.setAttribute("aria-busy", "true");
    fetch(button.formAction, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token, "X-Preview-Fragment": "1" },
    })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        target.innerHTML = html;
        target.classList.remove("rule-preview--empty");
        target.scrollIntoView({ behavior: "smooth", block: "start" });
      })
      .catch(function () {
        // The page route still works: let the browser submit to the preview page.
        form.action = button.formAction;
        form.submit();
      })
      .finally(function () {
        button.disabled = false;
        button.textContent = label;
        target.removeAttribute("aria-busy");
      });
  });
})();
