/* Keyboard triage for the feedback inbox: plain JavaScript over htmx, no build step.
 *
 * j/k or ↓/↑ move the highlighted row, Enter/o open it, x selects it, 1/2/3 set the importance,
 * e marks triaged, a archives, t goes to the tag field, u undoes the last change, ? shows help.
 * Actions apply to the selected rows, or to the highlighted one when none is selected. They are
 * sent one after the other (never dropped), and the server answers with the changed rows and
 * a toast holding the Undo button.
 */
(function () {
  "use strict";

  let currentId = null;
  let queue = Promise.resolve();

  const inbox = () => document.getElementById("inbox");
  const rows = () => Array.from(document.querySelectorAll("#inbox-rows tr.inbox-row"));
  const currentRow = () => (currentId ? document.getElementById("feedback-" + currentId) : null);
  const canTriage = () => inbox() && inbox().dataset.canTriage === "true";

  function setCurrent(row, focus) {
    rows().forEach(function (r) {
      r.classList.remove("current");
      r.removeAttribute("aria-current");
    });
    if (!row) {
      currentId = null;
      return;
    }
    currentId = row.dataset.id;
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(delta) {
    const list = rows();
    if (!list.length) return;
    const index = list.indexOf(currentRow());
    const next = index < 0 ? list[0] : list[Math.min(list.length - 1, Math.max(0, index + delta))];
    setCurrent(next, true);
  }

  function selectedIds() {
    return Array.from(document.querySelectorAll('#inbox-rows input[name="ids"]:checked'))
      .map(function (box) { return box.value; });
  }

  function targetIds() {
    const ids = selectedIds();
    if (ids.length) return ids;
    const row = currentRow();
    return row ? [row.dataset.id] : [];
  }

  function searchText() {
    const field = document.getElementById("bulk-q");
    return field ? field.value : "";
  }

  // One request at a time, in the order the keys were pressed.
  function send(url, values) {
    queue = queue.then(function () {
      return htmx.ajax("POST", url, { values: values, swap: "none" });
    }).catch(function () {});
    return queue;
  }

  function act(action, value) {
    if (!canTriage()) return;
    const ids = targetIds();
    if (!ids.length) return;
    send(inbox().dataset.bulkUrl, { ids: ids.join(","), action: action, value: value || "",
                                    q: searchText() });
  }

  function undoLast() {
    if (!canTriage()) return;
    queue = queue.then(function () {
      const button = document.querySelector("#inbox-toast [data-undo]");
      if (!button) return null;
      return htmx.ajax("POST", inbox().dataset.undoUrl,
                       { values: { events: button.dataset.events, q: searchText() },
                         swap: "none" });
    }).catch(function () {});
  }

  function updateSelection() {
    const count = selectedIds().length;
    const label = document.getElementById("selection-count");
    if (label) {
      label.textContent = count ? label.dataset.selected.replace("%n", count)
                                : label.dataset.none;
    }
    const all = document.getElementById("select-all");
    if (all) {
      const boxes = document.querySelectorAll('#inbox-rows input[name="ids"]');
      all.checked = count > 0 && count === boxes.length;
      all.indeterminate = count > 0 && count < boxes.length;
    }
  }

  function toggleHelp() {
    const help = document.getElementById("shortcut-help");
    if (!help) return;
    if (help.open) help.close(); else help.showModal();
  }

  function typing(target) {
    return target && (target.isContentEditable ||
      ["INPUT", "TEXTAREA", "SELECT"].indexOf(target.tagName) >= 0);
  }

  document.addEventListener("keydown", function (event) {
    if (!inbox() || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (typing(target)) {
      if (event.key === "Escape") target.blur();
      return;
    }
    const help = document.getElementById("shortcut-help");
    if (help && help.open) {
      if (event.key === "?") { event.preventDefault(); help.close(); }
      return;
    }
    const onControl = target && target.closest && target.closest("a, button, summary");
    switch (event.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "Enter": case "o": {
        if (onControl && event.key === "Enter") return;  // a focused link or button: its own
        const row = currentRow();
        if (!row) return;
        window.location.href = row.dataset.url;
        break;
      }
      case "x": {
        const row = currentRow();
        const box = row && row.querySelector('input[name="ids"]');
        if (!box) return;
        box.checked = !box.checked;
        updateSelection();
        break;
      }
      case "1": act("importance", "nice_to_have"); break;
      case "2": act("importance", "important"); break;
      case "3": act("importance", "critical"); break;
      case "e": act("triage"); move(1); break;
      case "a": act("archive"); move(1); break;
      case "u": undoLast(); break;
      case "t": {
        const field = document.getElementById("bulk-tag");
        if (!field) return;
        field.focus();
        break;
      }
      case "?": toggleHelp(); break;
      default: return;
    }
    event.preventDefault();
  });

  // A click on a row (outside its links and checkbox) highlights it.
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-shortcuts]")) { toggleHelp(); return; }
    const row = event.target.closest && event.target.closest("#inbox-rows tr.inbox-row");
    if (row && !event.target.closest("a, input, button")) setCurrent(row, true);
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "select-all") {
      document.querySelectorAll('#inbox-rows input[name="ids"]').forEach(function (box) {
        box.checked = event.target.checked;
      });
    }
    if (event.target.closest("#inbox-rows, #select-all")) updateSelection();
    // Choosing an importance or a product area in the toolbar applies it at once.
    const apply = event.target.dataset && event.target.dataset.apply;
    if (apply) {
      if (!event.target.value) return;
      const button = document.querySelector('#bulk-form button[value="' + apply + '"]');
      if (button) button.click();
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    // A toolbar action with nothing ticked applies to the highlighted row.
    if (event.detail.elt && event.detail.elt.id === "bulk-form" &&
        !event.detail.formData.has("ids") && currentId) {
      event.detail.formData.append("ids", currentId);
    }
  });

  function refresh() {
    const results = document.getElementById("inbox-results");
    if (results && !results.inboxSeen) {
      // A new list (filters, page): the highlight starts again on its first row.
      results.inboxSeen = true;
      setCurrent(rows()[0] || null, false);
    } else {
      // Rows swapped in place after an action: keep the highlight where it was.
      const row = currentRow();
      const hadFocus = document.activeElement === document.body || !document.activeElement;
      if (row) setCurrent(row, hadFocus); else if (currentId) setCurrent(null);
    }
    updateSelection();
    // A new toast fades after a while; its Undo stays reachable with u.
    const toast = document.getElementById("inbox-toast");
    if (toast && toast.childElementCount && !toast.inboxTimed) {
      toast.inboxTimed = true;
      window.setTimeout(function () { toast.classList.add("faded"); }, 10000);
    }
  }

  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("htmx:oobAfterSwap", function () { window.setTimeout(refresh, 0); });
  document.addEventListener("htmx:afterRequest", function (event) {
    // After a toolbar action its fields are emptied, ready for the next one.
    if (event.detail.elt && event.detail.elt.id === "bulk-form" && event.detail.successful) {
      ["bulk-tag", "bulk-importance", "bulk-area"].forEach(function (id) {
        const field = document.getElementById(id);
        if (field) field.value = "";
      });
    }
  });
  document.addEventListener("htmx:responseError", function (event) {
    // 403, 500… (a 422 carries its own message): say it failed rather than nothing.
    const toast = document.getElementById("inbox-toast");
    if (!toast || event.detail.xhr.status === 422) return;
    toast.textContent = toast.dataset.failed || "Error";
    toast.classList.add("error");
  });
  document.addEventListener("htmx:sendError", function () {
    const toast = document.getElementById("inbox-toast");
    if (!toast) return;
    toast.textContent = toast.dataset.offline || toast.dataset.failed || "Error";
    toast.classList.add("error");
  });
  document.addEventListener("DOMContentLoaded", refresh);
})();
