// Starts Swagger UI on /api/docs from its container's data attributes: the page's policy runs
// no inline script, so the settings flask-smorest's template wrote into one are read from there.
(function () {
  "use strict";
  var container = document.getElementById("swagger-ui-container");
  var config = {url: container.dataset.specUrl, dom_id: "#swagger-ui-container"};
  var overrides = JSON.parse(container.dataset.config || "{}");
  Object.keys(overrides).forEach(function (name) { config[name] = overrides[name]; });
  window.addEventListener("load", function () { window.ui = SwaggerUIBundle(config); });
})();
