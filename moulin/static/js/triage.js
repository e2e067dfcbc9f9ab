/* Theme decisions with one keystroke, in the inbox (on the highlighted row) and on the
 * feedback page (on its themes card). Plain JavaScript over htmx, next to inbox.js.
 *
 * s accepts the top suggestion, Shift+1/2/3 the first/second/third one, c opens the theme
 * picker (type to filter, Enter applies the first match), n says "unknown — possible new
 * theme". The inbox keeps its own keys (1–3 importance, a archive, t tag…).
 */
(function () {
  "use strict";

  let pickerTarget = null;

  function typing(target) {
    return target && (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) >= 0);
  }

  // The item the keys act on: the inbox's highlighted row, else the feedback page's card.
  function focusedItem() {
    if (document.getElementById("inbox")) {
      const row = document.querySelector("#inbox-rows tr.inbox-row.current");
      const box = row && row.querySelector("[data-decide-url]");
      return box ? { url: box.dataset.decideUrl, inbox: true } : null;
    }
    const panel = document.getElementById("triage-panel");
    return panel && panel.dataset.decideUrl ? { url: panel.dataset.decideUrl, inbox: false }
                                             : null;
  }

  function decide(values, item) {
    item = item || focusedItem();
    if (!item) return;
    if (item.inbox) {
      values.from = "inbox";
      htmx.ajax("POST", item.url, { values: values, swap: "none" });
    } else {
      htmx.ajax("POST", item.url, { values: values, target: "#triage-panel",
                                    swap: "outerHTML" });
    }
  }

  // --- The theme picker ------------------------------------------------------------------------
  const picker = () => document.getElementById("theme-picker");
  const options = () => Array.from(document.querySelectorAll("#theme-picker-list .theme-option"));
  const visibleOptions = () => options().filter(function (o) { return !o.closest("li").hidden; });

  function openPicker() {
    const dialog = picker();
    const item = focusedItem();
    if (!dialog || !item) return;
    pickerTarget = item;
    const field = document.getElementById("theme-picker-q");
    field.value = "";
    filterPicker("");
    dialog.showModal();
    field.focus();
  }

  function filterPicker(text) {
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    options().forEach(function (option) {
      const haystack = option.dataset.search || "";
      option.closest("li").hidden = !words.every(function (w) { return haystack.indexOf(w) >= 0; });
    });
  }

  function choose(option) {
    const dialog = picker();
    if (!option || !pickerTarget) return;
    decide({ decision: "apply", theme: option.dataset.theme }, pickerTarget);
    pickerTarget = null;
    dialog.close();
  }

  document.addEventListener("input", function (event) {
    if (event.target.id === "theme-picker-q") filterPicker(event.target.value);
  });

  document.addEventListener("keydown", function (event) {
    const dialog = picker();
    if (dialog && dialog.open) {
      if (event.key === "Enter" && event.target.id === "theme-picker-q") {
        event.preventDefault();
        choose(visibleOptions()[0]);
      } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        const list = visibleOptions();
        if (!list.length) return;
        const index = list.indexOf(document.activeElement);
        const next = event.key === "ArrowDown" ? Math.min(list.length - 1, index + 1)
                                               : Math.max(-1, index - 1);
        event.preventDefault();
        if (next < 0) document.getElementById("theme-picker-q").focus();
        else list[next].focus();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    const help = document.getElementById("shortcut-help");
    if (help && help.open) return;
    // Shift+1…3 by physical key: the character differs between keyboard layouts.
    const digit = /^Digit([1-3])$/.exec(event.code || "");
    if (event.shiftKey && digit) {
      if (!focusedItem()) return;
      // On AZERTY keyboards Shift+1 types "1": the inbox must not also set the importance.
      event.preventDefault();
      event.stopPropagation();
      decide({ decision: "accept", rank: digit[1] });
      return;
    }
    if (event.shiftKey) return;
    switch (event.key) {
      case "s": decide({ decision: "accept", rank: "1" }); break;
      case "c": openPicker(); break;
      case "n": decide({ decision: "unknown" }); break;
      default: return;
    }
    event.preventDefault();
    event.stopPropagation();
  }, true);  // capture: runs before the inbox's own keys (see Shift+1 above)

  document.addEventListener("click", function (event) {
    const option = event.target.closest && event.target.closest("#theme-picker-list .theme-option");
    if (option) { choose(option); return; }
    if (event.target.closest && event.target.closest("[data-theme-picker]")) openPicker();
  });
})();
