/* spinemets: after htmx puts new content in, move the focus to the field marked data-autofocus.
   (A plain autofocus attribute in swapped-in content makes Chromium log "Autofocus processing was
   blocked" while the button that was pressed still has the focus.) */
document.addEventListener("htmx:afterSettle", function () {
  var el = document.querySelector("[data-autofocus]");
  if (el) { el.removeAttribute("data-autofocus"); el.focus(); }
});

/* Keyboard users: after a refused save the focus starts on the list of what to correct, and after
   "Remove lesion" (whose row, button included, is gone) on "Add a lesion" rather than the page top. */
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.setAttribute("tabindex", "-1"); summary.focus(); }
});
var focusAfterRemoval = null;
document.addEventListener("htmx:beforeRequest", function (evt) {
  var elt = evt.detail && evt.detail.elt;
  if (elt && elt.value && elt.value.indexOf("remove_lesion:") === 0) {
    focusAfterRemoval = document.querySelector('button[value="add_lesion"]');
  }
});
document.addEventListener("htmx:afterSettle", function () {
  var active = document.activeElement;
  if (focusAfterRemoval && (!active || active === document.body || !document.contains(active))) {
    focusAfterRemoval.focus();
  }
  focusAfterRemoval = null;
});

/* A mouse wheel over a focused number field steps its value in Chromium (KPS 70 became 60 while the
   page was being scrolled, with nothing to show it): let go of the field so the wheel scrolls the page. */
document.addEventListener("wheel", function (evt) {
  var el = evt.target;
  if (el && el.type === "number" && el === document.activeElement) { el.blur(); }
}, { passive: true });

/* Leaving the Assess form with entries not saved (a tap on History or Ask in the top bar, a reload) lost
   them: Back brought only some fields back (not those with autocomplete=off, nor added lesion rows).
   The browser asks first; saving, and the form's own buttons, submit without asking. A form drawn
   again by the server (a refused save, a lesion row added without htmx) holds unsaved entries too. */
var assessUnsaved = false;
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("assess-form");
  if (!form) { return; }
  assessUnsaved = form.hasAttribute("data-unsaved");
  form.addEventListener("input", function () { assessUnsaved = true; });
  form.addEventListener("submit", function () { assessUnsaved = false; });
});
window.addEventListener("beforeunload", function (evt) {
  if (assessUnsaved) { evt.preventDefault(); evt.returnValue = ""; }
});
