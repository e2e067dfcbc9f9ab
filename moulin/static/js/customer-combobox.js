/* The customer field of the feedback intake form: a combobox with list autocomplete
 * (WAI-ARIA APG "combobox" pattern). htmx fills the listbox from the server as one types; this
 * script adds the keyboard (Arrow Down/Up, Enter, Escape), the choice (the hidden customer id)
 * and the aria state. Without JavaScript the typed name, domain or CRM id is resolved on submit.
 */
(function () {
  "use strict";

  function setup(root) {
    var input = root.querySelector('[role="combobox"]');
    var list = root.querySelector('[role="listbox"]');
    var hidden = document.getElementById(root.dataset.hidden);
    var chosen = root.querySelector(".combobox-chosen");
    var active = -1;

    function options() {
      return Array.prototype.slice.call(list.querySelectorAll('[role="option"]'));
    }

    function highlight(index) {
      var opts = options();
      active = index;
      opts.forEach(function (option, i) {
        option.setAttribute("aria-selected", i === index ? "true" : "false");
      });
      if (index >= 0 && opts[index]) {
        input.setAttribute("aria-activedescendant", opts[index].id);
        opts[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function show(open) {
      list.hidden = !open;
      input.setAttribute("aria-expanded", open ? "true" : "false");
      if (!open) highlight(-1);
    }

    function choose(option) {
      hidden.value = option.dataset.id;
      input.value = option.dataset.label;
      chosen.textContent = option.dataset.summary || "";
      show(false);
    }

    // Typing means another customer: forget the one chosen until a suggestion is picked.
    input.addEventListener("input", function () {
      hidden.value = "";
      chosen.textContent = "";
      if (!input.value.trim()) show(false);
    });

    input.addEventListener("keydown", function (event) {
      var opts = options();
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!opts.length) return;
        if (list.hidden) show(true);
        highlight(Math.min(active + 1, opts.length - 1));
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        if (!list.hidden) highlight(Math.max(active - 1, 0));
      } else if (event.key === "Enter" && !list.hidden) {
        // Enter picks the highlighted customer; it submits the form only when the list is shut.
        event.preventDefault();
        if (active >= 0 && opts[active]) choose(opts[active]); else show(false);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        show(false);
      }
    });

    // Keep the focus in the field while clicking an option, then take it.
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });
    list.addEventListener("click", function (event) {
      var option = event.target.closest('[role="option"]');
      if (option) choose(option);
    });
    input.addEventListener("blur", function () { show(false); });

    root.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target !== list) return;
      active = -1;
      // A late answer for text that was since erased must not open the list.
      show(input.value.trim() !== "" && list.children.length > 0 &&
           document.activeElement === input);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-combobox]").forEach(setup);
  });
})();
