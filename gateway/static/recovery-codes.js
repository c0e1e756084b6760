// Recovery codes page: "Copy codes" and "Print codes" buttons (shown only when scripts run;
// without them the listed codes can be selected and copied, and the download works).
"use strict";
(function () {
  const status = document.getElementById("copy-status");
  document.querySelectorAll("[data-copy-codes]").forEach(function (button) {
    const source = document.getElementById(button.dataset.copyCodes);
    if (!source || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      const codes = Array.from(source.querySelectorAll("code"), function (c) { return c.textContent; });
      navigator.clipboard.writeText(codes.join("\n")).then(
        function () { status.textContent = "Codes copied."; },
        function () { status.textContent = "Could not copy: select the codes and copy them."; }
      );
    });
  });
  document.querySelectorAll("[data-print-page]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
})();
