// Recovery codes page: "Copy codes" and "Print codes" buttons (shown only when scripts run;
// without them the codes stay in a text box to select and copy, and the download works).
"use strict";
(function () {
  const status = document.getElementById("copy-status");
  document.querySelectorAll("[data-copy-codes]").forEach(function (button) {
    const source = document.getElementById(button.dataset.copyCodes);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.value).then(
        function () { status.textContent = "Codes copied."; },
        function () { source.select(); status.textContent = "Select the codes and copy them."; }
      );
    });
  });
  document.querySelectorAll("[data-print-page]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
