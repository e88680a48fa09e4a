/* spinemets: after htmx puts new content in, move the focus to the field marked data-autofocus.
   (A plain autofocus attribute in swapped-in content makes Chromium log "Autofocus processing was
   blocked" while the button that was pressed still has the focus.) */
document.addEventListener("htmx:afterSettle", function () {
  var el = document.querySelector("[data-autofocus]");
  if (el) { el.removeAttribute("data-autofocus"); el.focus(); }
});
