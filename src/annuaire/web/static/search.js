// The search page without full reloads: the form and the pagination fetch the results fragment,
// the URL follows (shareable, Back works), the map is told the new filters.
(function () {
  "use strict";
  var form = document.getElementById("recherche");
  var results = document.getElementById("resultats");
  if (!form || !results) return;

  function queryOf(formElement) {
    var params = new URLSearchParams();
    var data = new FormData(formElement);
    var centred = Boolean(data.get("autour") || data.get("lat"));
    data.forEach(function (value, key) {
      if (key === "rayon" && !centred) return; // a radius means nothing without a centre
      if (String(value).trim() !== "") params.append(key, value);
    });
    return params.toString();
  }

  function fillForm(query) {
    var params = new URLSearchParams(query);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name) return;
      if (el.type === "checkbox") el.checked = params.getAll(el.name).indexOf(el.value) >= 0;
      else if (el.id === "certifie-non") el.value = params.getAll("certifie").indexOf("non") >= 0 ? "non" : "";
      else if (el.tagName === "SELECT" || el.type === "text" || el.type === "search" || el.type === "hidden") {
        var value = params.get(el.name) || "";
        if (el.tagName === "SELECT" && el.name === "rayon" && !value) value = "10";
        el.value = value;
      }
    });
  }

  function load(query, push, focus) {
    var url = "/recherche" + (query ? "?" + query : "");
    results.setAttribute("aria-busy", "true");
    return fetch(url, { headers: { "X-Partial": "1" } })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        results.innerHTML = html;
        results.removeAttribute("aria-busy");
        if (push) history.pushState({ query: query }, "", url);
        var block = results.querySelector(".results");
        if (block && block.dataset.titre) document.title = block.dataset.titre;
        if (window.annuaireMap) window.annuaireMap.setFilters(block ? block.dataset.filtres : "", true);
        var alert = document.getElementById("erreur-recherche");
        if (alert) {
          // An error (an unknown commune…) is brought into view, where a phone would not show it.
          alert.scrollIntoView({ block: "center" });
          alert.focus({ preventScroll: true });
        } else if (focus) {
          var heading = document.getElementById("resultats-titre");
          if (heading) heading.focus();
        }
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    load(queryOf(form), true, false);
  });
  form.addEventListener("change", function (event) {
    var name = event.target.name;
    if (event.target.id === "certifie" && event.target.checked) form.elements["certifie-non"].value = "";
    if (name === "q" || name === "autour") return; // typed text waits for the submit button
    if (name === "rayon" && !form.elements.autour.value && !form.elements.lat.value) return;
    load(queryOf(form), true, false);
  });
  results.addEventListener("click", function (event) {
    var link = event.target.closest(".pager a, .facets a, .active-filters a, .understood a, .suggested a");
    if (!link) return;
    event.preventDefault();
    var query = link.getAttribute("href").split("?")[1] || "";
    fillForm(query);
    load(query, true, true);
  });
  window.addEventListener("popstate", function () {
    var query = location.search.replace(/^\?/, "");
    fillForm(query);
    load(query, false, false);
  });

  // On a phone the filters start folded: the results come first.
  var more = document.getElementById("filtres");
  if (more && window.matchMedia("(max-width: 1000px)").matches) more.open = false;

  var here = document.getElementById("autour-de-moi");
  if (here && navigator.geolocation) {
    here.hidden = false;
    here.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (position) {
        form.elements.autour.value = "";
        form.elements.lat.value = position.coords.latitude.toFixed(5);
        form.elements.lon.value = position.coords.longitude.toFixed(5);
        form.elements.tri.value = "distance";
        load(queryOf(form), true, false);
      });
    });
  }
  form.elements.autour.addEventListener("input", function () {
    form.elements.lat.value = "";
    form.elements.lon.value = "";
  });
})();
