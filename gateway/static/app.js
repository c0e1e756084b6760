// Console pages' small enhancements; every page works without this file (the CSP allows only
// scripts from this origin, so it is a static file, never inline script).
// - focus moves to the error summary when a form comes back with problems;
// - times shown in UTC by the server are rewritten in the person's local time;
// - password fields get a "Show password" / "Hide password" control inside the field;
// - the header's "Menu" stays open on wide screens in browsers that cannot style it open;
// - "Copy" buttons copy their value (the 2FA key);
// - links marked data-email-from (the sign-in page's "Forgot your password?") carry the
//   address typed so far.
(function () {
  "use strict";

  function focusErrors() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
      summary.querySelectorAll("a[href^='#']").forEach(function (link) {
        link.addEventListener("click", function (event) {
          var target = document.getElementById(link.getAttribute("href").slice(1));
          if (target) {
            event.preventDefault();
            target.focus();
          }
        });
      });
    }
  }

  // One format for every time on every page (templating.local_time writes the <time>).
  function localTimes() {
    var formats;
    try {
      formats = {
        date: new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric" }),
        time: new Intl.DateTimeFormat(undefined, {
          year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
          timeZoneName: "short"
        })
      };
    } catch (e) {
      return; // an old browser: the UTC text stays
    }
    document.querySelectorAll("time[data-local-time]").forEach(function (node) {
      var when = new Date(node.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      var format = formats[node.getAttribute("data-local-time")] || formats.time;
      node.title = node.textContent.trim();
      node.textContent = format.format(when);
    });
  }

  function menuOnWideScreens() {
    var menu = document.querySelector("details.menu");
    if (!menu || !window.CSS || CSS.supports("selector(::details-content)")) { return; }
    var wide = window.matchMedia("(min-width: 48rem)");
    var follow = function () { menu.open = wide.matches; };
    follow();
    if (wide.addEventListener) { wide.addEventListener("change", follow); }
  }

  function passwordToggles() {
    document.querySelectorAll("input[type=password]").forEach(function (input) {
      if (input.hidden || !input.id) { return; }
      var row = document.createElement("div");
      row.className = "password-row";
      input.parentNode.insertBefore(row, input);
      row.appendChild(input);
      // The label says what a press does next; no aria-pressed, which would say it twice.
      var button = document.createElement("button");
      button.type = "button";
      button.className = "password-toggle";
      button.textContent = "Show password";
      button.setAttribute("aria-controls", input.id);
      button.addEventListener("click", function () {
        var show = input.type === "password";
        input.type = show ? "text" : "password";
        button.textContent = show ? "Hide password" : "Show password";
      });
      row.appendChild(button);
      if (input.form) {
        input.form.addEventListener("submit", function () {
          input.type = "password";
          button.textContent = "Show password";
        });
      }
    });
  }

  function emailCarriers() {
    document.querySelectorAll("a[data-email-from]").forEach(function (link) {
      var input = document.getElementById(link.getAttribute("data-email-from"));
      if (!input) { return; }
      var url = new URL(link.href, window.location.href);
      input.addEventListener("input", function () {
        var typed = input.value.trim();
        if (typed) { url.searchParams.set("email", typed); } else { url.searchParams.delete("email"); }
        link.href = url.pathname + url.search;
      });
    });
  }

  function copyButtons() {
    if (!navigator.clipboard) { return; }
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var status = button.parentNode.querySelector(".copy-status");
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
          if (status) { status.textContent = "Key copied."; }
        }, function () {
          if (status) { status.textContent = "Could not copy: select the key and copy it."; }
        });
      });
    });
  }

  function start() {
    localTimes();
    menuOnWideScreens();
    passwordToggles();
    emailCarriers();
    copyButtons();
    focusErrors();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
