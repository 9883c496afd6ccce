// The API's interactive documentation: Swagger UI (from the npm package swagger-ui-dist, served by
// the site itself) over /api/openapi.json. No call leaves the site: the online validator is off.
(function () {
  "use strict";
  var element = document.getElementById("swagger-ui");
  if (!element || !window.SwaggerUIBundle) return;
  window.SwaggerUIBundle({
    url: element.dataset.openapi,
    domNode: element,
    deepLinking: false, // a link in each operation's button would nest interactive elements (axe)
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false
  });
})();
