// Loaded between require.js and the widget manager (see _config.yml, nb_ipywidgets_js).
// The manager bundle asks RequireJS for its font files under "@jupyter-widgets/html-manager/dist",
// which RequireJS would resolve against the page's own folder and 404 on every page but the root.
// Point that prefix at the copy this site serves, found from this script's own URL.
requirejs.config({
  paths: {
    "@jupyter-widgets/html-manager/dist": new URL("html-manager/dist", document.currentScript.src).href,
  },
});

// The manager typesets widget labels with MathJax 2's API, MathJax.Hub.Queue(["Typeset", hub, el]);
// the site runs MathJax 3, which has no Hub, so every label threw. Give MathJax 3 a Hub that forwards
// to typesetPromise. MathJax 3 (loaded later, deferred) takes a pre-existing window.MathJax as its
// configuration and replaces the global, so the Hub is put back when the page is ready.
(function () {
  const hub = {
    Queue: (call) => {
      // Wait for MathJax's own first pass over the page: a typeset of one element before it would
      // leave the rest of the page untypeset.
      const mj = window.MathJax;
      if (mj && mj.startup && mj.startup.promise) mj.startup.promise = mj.startup.promise.then(() => mj.typesetPromise([call[2]]));
    },
  };
  const mj = window.MathJax || {};
  mj.Hub = hub;
  if (!mj.version) {
    // Still a configuration (the page may have set options already): keep it, add to startup.
    mj.startup = Object.assign({}, mj.startup, {
      pageReady() { window.MathJax.Hub = hub; return window.MathJax.startup.defaultPageReady(); },
    });
  }
  window.MathJax = mj;
})();
