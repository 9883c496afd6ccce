// Search box suggestions (the search as understood or spelt right, names, communes) as an ARIA 1.2
// combobox: arrows move, Enter opens, Escape closes. Without JavaScript the box is a plain search field.
(function () {
  "use strict";

  function setup(input) {
    var list = document.getElementById(input.getAttribute("aria-controls"));
    var items = [];
    var active = -1;
    var timer = null;
    var lastQuery = "";

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function option(id, label, detail, url) {
      var li = document.createElement("li");
      li.id = id;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      li.dataset.url = url;
      li.textContent = label;
      if (detail) {
        var span = document.createElement("span");
        span.className = "muted";
        span.textContent = " – " + detail;
        li.appendChild(span);
      }
      li.addEventListener("mousedown", function (event) { event.preventDefault(); window.location.href = url; });
      return li;
    }

    function group(label) {
      var li = document.createElement("li");
      li.className = "group";
      li.setAttribute("role", "presentation");
      li.textContent = label;
      return li;
    }

    function render(data) {
      list.textContent = "";
      items = [];
      var base = input.id + "-option-";
      if (data.recherches && data.recherches.length) {
        list.appendChild(group("Rechercher"));
        data.recherches.forEach(function (r) {
          var li = option(base + items.length, r.nom, r.detail, r.url);
          li.classList.add("search-option");
          items.push(li);
          list.appendChild(li);
        });
      }
      if (data.organismes.length) {
        list.appendChild(group("Organismes"));
        data.organismes.forEach(function (o) {
          var li = option(base + items.length, o.nom, o.commune, o.url);
          items.push(li);
          list.appendChild(li);
        });
      }
      if (data.communes.length) {
        list.appendChild(group("Communes"));
        data.communes.forEach(function (c) {
          var li = option(base + items.length, c.nom + " (" + c.code_departement + ")", c.nb_organismes + " organisme" + (c.nb_organismes > 1 ? "s" : ""), c.url);
          items.push(li);
          list.appendChild(li);
        });
      }
      if (items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        active = -1;
      } else {
        close();
      }
    }

    function fetchSuggestions() {
      var q = input.value.trim();
      if (q.length < 2) { close(); return; }
      if (q === lastQuery) return;
      lastQuery = q;
      fetch(input.dataset.suggest + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : { recherches: [], organismes: [], communes: [] }; })
        .then(function (data) { if (input.value.trim() === q) render(data); })
        .catch(function () { close(); });
    }

    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, 150);
    });
    input.addEventListener("keydown", function (event) {
      if (list.hidden || !items.length) return;
      if (event.key === "ArrowDown") { event.preventDefault(); highlight((active + 1) % items.length); }
      else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active <= 0 ? items.length - 1 : active - 1); }
      else if (event.key === "Escape") { event.preventDefault(); close(); }
      else if (event.key === "Enter" && active >= 0) { event.preventDefault(); window.location.href = items[active].dataset.url; }
    });
    input.addEventListener("blur", function () { setTimeout(close, 100); });
    input.form && input.form.addEventListener("submit", close);
  }

  document.querySelectorAll("input[data-suggest]").forEach(setup);
})();
