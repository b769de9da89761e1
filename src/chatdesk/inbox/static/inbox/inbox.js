// The open thread stays scrolled to the newest message as messages arrive, unless the agent
// scrolled up to read older ones; the refreshed conversation list keeps its scroll position;
// Ctrl/Cmd+Enter in the composer sends; the template picker's preview follows what the agent
// types. Nothing else: the pages work without this file (and without htmx).
(function () {
  "use strict";
  var stick = true;

  function scroller() {
    return document.getElementById("thread-scroll");
  }

  function atBottom(el) {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 80;
  }

  function toBottom() {
    var el = scroller();
    if (el) el.scrollTop = el.scrollHeight;
  }

  document.addEventListener("DOMContentLoaded", function () {
    var el = scroller();
    if (!el) return;
    // A page of older messages (opened without JavaScript's "load older") starts at its top.
    if (!el.dataset.older) toBottom();
    el.addEventListener("scroll", function () { stick = atBottom(el); }, { passive: true });
  });

  // A reply was sent: show it even if the agent had scrolled up.
  document.addEventListener("inbox:refresh", function () { stick = true; });

  var listScrollTop = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "conversation-list" && event.detail.shouldSwap) {
      listScrollTop = target.scrollTop;
    }
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail && event.detail.elt;
    if (target && target.id === "thread-poller" && stick) toBottom();
    var list = document.getElementById("conversation-list");
    if (list && listScrollTop !== null) {
      list.scrollTop = listScrollTop;
      listScrollTop = null;
    }
  });

  // The same substitution as the server's preview: a blank parameter shows as its {{n}}.
  document.addEventListener("input", function (event) {
    var field = event.target;
    if (!field || !field.dataset || !field.dataset.templateParam || !field.form) return;
    var preview = field.form.querySelector("[data-template-preview]");
    if (!preview) return;
    var values = {};
    field.form.querySelectorAll("[data-template-param]").forEach(function (input) {
      values[input.dataset.templateParam] = input.value.trim();
    });
    preview.textContent = preview.dataset.templateBody.replace(/\{\{(\d+)\}\}/g, function (whole, n) {
      return values[n] || whole;
    });
  });

  document.addEventListener("keydown", function (event) {
    var field = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (!field || !field.form || field.form.id !== "composer") return;
    event.preventDefault();
    var send = field.form.querySelector("button[type=submit]:not([disabled])");
    if (send) field.form.requestSubmit(send);
  });
})();
