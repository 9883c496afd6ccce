// Maps. The search map draws the server's clusters (/api/v1/clusters) for the current filters and
// viewport: a cluster is a button that zooms in on its organisations, a lone organisation a dot
// that links to its page. The organisation page shows one dot. Tiles are decoration: the lists
// never depend on them, and a tile that cannot load leaves a plain background.
(function () {
  "use strict";
  if (!window.L) return;
  var FRANCE = [[41.3, -5.2], [51.1, 9.6]];

  // Under the markers, the départements' outlines (served by the site itself): France stays
  // recognisable when tiles cannot load. While tiles show, only the borders are drawn; at the first
  // tile that fails, the land is filled in white over the map's sea-blue background.
  var OUTLINE = { color: "#6a6a8a", weight: 1, opacity: 0.8, fill: true, fillColor: "#ffffff", fillOpacity: 0 };

  function baseMap(element, options) {
    var map = L.map(element, options);
    var tiles = L.tileLayer(element.dataset.tiles, { attribution: element.dataset.attribution, maxZoom: 19 }).addTo(map);
    var outlines = null;
    var tilesFailed = false;
    function fillLand() {
      if (outlines) outlines.setStyle({ fillOpacity: 1 });
    }
    tiles.on("tileerror", function () {
      if (tilesFailed) return;
      tilesFailed = true;
      element.dataset.tuiles = "indisponibles";
      fillLand();
      if (options.withoutTiles) options.withoutTiles(map);
    });
    if (element.dataset.contours) {
      fetch(element.dataset.contours)
        .then(function (r) { if (!r.ok) throw new Error("contours " + r.status); return r.json(); })
        .then(function (data) {
          outlines = L.geoJSON(data, {
            style: OUTLINE,
            interactive: false,
            attribution: "Contours des départements : Etalab, IGN (Licence Ouverte)"
          }).addTo(map);
          outlines.bringToBack();
          if (tilesFailed) fillLand();
          element.dataset.contoursAffiches = String(data.features.length);
        })
        .catch(function () { element.dataset.contoursAffiches = "0"; });
    }
    return map;
  }

  function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

  function searchMap(element) {
    var map = baseMap(element, { zoomSnap: 1 });
    var layer = L.layerGroup().addTo(map);
    var filters = "";
    var request = 0;
    map.fitBounds(FRANCE);

    function bboxOf(bounds) {
      return [
        clamp(bounds.getWest(), -180, 179.9), clamp(bounds.getSouth(), -85, 84.9),
        clamp(bounds.getEast(), -179.9, 180), clamp(bounds.getNorth(), -84.9, 85)
      ].map(function (v) { return v.toFixed(5); }).join(",");
    }

    function clusters(bbox, zoom) {
      var url = "/api/v1/clusters?bbox=" + bbox + "&zoom=" + zoom + (filters ? "&" + filters : "");
      return fetch(url).then(function (r) { if (!r.ok) throw new Error("clusters " + r.status); return r.json(); });
    }

    function draw() {
      var mine = ++request;
      var zoom = map.getZoom();
      element.dataset.etat = "chargement";
      clusters(bboxOf(map.getBounds()), zoom).then(function (data) {
        if (mine !== request) return;
        layer.clearLayers();
        data.grappes.forEach(function (g) {
          var size = g.nombre < 10 ? 28 : g.nombre < 100 ? 32 : g.nombre < 1000 ? 38 : 44;
          var marker = L.marker([g.latitude, g.longitude], {
            icon: L.divIcon({ className: "cluster-icon grappe", html: "<span>" + g.nombre + "</span>", iconSize: [size, size] }),
            title: g.nombre + " organismes : zoomer",
            alt: g.nombre + " organismes",
            keyboard: true
          });
          function zoomIn() {
            var l = g.limites;
            var target = L.latLngBounds([l.sud, l.ouest], [l.nord, l.est]);
            if (target.getNorthEast().equals(target.getSouthWest())) map.setView(target.getCenter(), map.getZoom() + 2);
            else map.fitBounds(target.pad(0.1), { maxZoom: Math.max(map.getZoom() + 1, 6) });
          }
          marker.on("click", zoomIn);
          marker.on("keypress", function (e) {  // the icon is a focusable button: Enter or Space zooms
            if (e.originalEvent.key === "Enter" || e.originalEvent.key === " ") zoomIn();
          });
          layer.addLayer(marker);
        });
        data.organismes.forEach(function (o) {
          var dot = L.circleMarker([o.latitude, o.longitude], { radius: 7, color: "#fff", weight: 2, fillColor: "#000091", fillOpacity: 0.9, className: "point" });
          var popup = document.createElement("div");
          var link = document.createElement("a");
          link.href = "/organisme/" + encodeURIComponent(o.id_organisme.toLowerCase());
          link.textContent = o.denomination;
          popup.appendChild(link);
          if (o.commune) popup.appendChild(document.createTextNode(" – " + o.commune));
          dot.bindPopup(popup);
          layer.addLayer(dot);
        });
        element.dataset.etat = "pret";
        element.dataset.filtresAffiches = filters;
        element.dataset.grappes = String(data.grappes.length);
        element.dataset.points = String(data.organismes.length);
        element.dataset.total = String(data.total);
      }).catch(function () { if (mine === request) element.dataset.etat = "erreur"; });
    }

    function fitResults() {
      // The results' extent, from coarse clusters over the world, then the detailed draw.
      return clusters("-180,-85,180,85", 2).then(function (data) {
        // Metropolitan France when it holds results, not the whole world for one overseas match.
        var all = L.latLngBounds([]);
        var mainland = L.latLngBounds([]);
        var france = L.latLngBounds(FRANCE);
        function extend(south, west, north, east) {
          all.extend([[south, west], [north, east]]);
          if (france.contains([[south, west], [north, east]])) mainland.extend([[south, west], [north, east]]);
        }
        data.grappes.forEach(function (g) { extend(g.limites.sud, g.limites.ouest, g.limites.nord, g.limites.est); });
        data.organismes.forEach(function (o) { extend(o.latitude, o.longitude, o.latitude, o.longitude); });
        var bounds = mainland.isValid() ? mainland : all;
        if (bounds.isValid() && filters) map.fitBounds(bounds.pad(0.05), { maxZoom: 12, animate: false });
        else map.fitBounds(FRANCE, { animate: false });
      }).catch(function () { /* the list is still there */ });
    }

    map.on("moveend", draw);
    return {
      map: map,
      setFilters: function (value, refit) {
        filters = value || "";
        (refit ? fitResults() : Promise.resolve()).then(draw);
      }
    };
  }

  var element = document.getElementById("carte");
  if (element) {
    var results = document.querySelector("#resultats .results");
    window.annuaireMap = searchMap(element);
    window.annuaireMap.setFilters(results ? results.dataset.filtres : "", Boolean(results && results.dataset.filtres));
  }

  var small = document.getElementById("mini-carte");
  if (small) {
    var position = [parseFloat(small.dataset.lat), parseFloat(small.dataset.lon)];
    // Without tiles a street-level view shows nothing: the département's outline around the dot does.
    var map = baseMap(small, {
      scrollWheelZoom: false,
      withoutTiles: function (m) { m.setView(position, 8); }
    }).setView(position, 14);
    L.circleMarker(position, { radius: 9, color: "#fff", weight: 2, fillColor: "#000091", fillOpacity: 0.95 })
      .bindTooltip(small.dataset.nom).addTo(map);
  }
})();
