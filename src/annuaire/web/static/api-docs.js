// The API's interactive documentation (/api/docs): Swagger UI over the OpenAPI description. A file of
// its own rather than an inline script, so that the Content-Security-Policy allows the site's
// script files only.
window.ui = SwaggerUIBundle({
  url: "/api/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
