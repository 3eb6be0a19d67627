// Folio console: keeps the page current without a reload. While anything on it still moves
// (`data-live="1"` on <main>) it fetches the page again every 1.5 s, otherwise every 10 s,
// and swaps in the new <main>. The HTML is the server's, escaped there; a parsed document
// runs no script.
(function () {
  "use strict";
  var FAST = 1500;
  var SLOW = 10000;

  function schedule() {
    var main = document.getElementById("main");
    var live = main && main.getAttribute("data-live") === "1";
    window.setTimeout(refresh, live ? FAST : SLOW);
  }

  function refresh() {
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.redirected) {
          // Signed out or expired: show where the server sends us.
          window.location.assign(response.url);
          return null;
        }
        return response.ok ? response.text() : null;
      })
      .then(function (text) {
        if (text === null) {
          return;
        }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
        var main = document.getElementById("main");
        if (fresh && main) {
          main.replaceWith(document.importNode(fresh, true));
          document.body.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () {
        // A network blip: the next round tries again.
      })
      .then(schedule);
  }

  document.addEventListener("DOMContentLoaded", schedule);
})();
