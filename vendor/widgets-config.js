// Loaded between require.js and the widget manager (see _config.yml, nb_ipywidgets_js).
// The manager bundle asks RequireJS for its font files under "@jupyter-widgets/html-manager/dist",
// which RequireJS would resolve against the page's own folder and 404 on every page but the root.
// Point that prefix at the copy this site serves, found from this script's own URL.
requirejs.config({
  paths: {
    "@jupyter-widgets/html-manager/dist": new URL("html-manager/dist", document.currentScript.src).href,
  },
});
