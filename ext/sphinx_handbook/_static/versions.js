/* Edition links keep the reader on the section in view, where the other edition has it.
   Without JavaScript they lead to the same page (or the start page). */
(function () {
  "use strict";
  function currentSection(ids) {
    var line = window.innerHeight / 3;
    // The linked section, unless the reader has scrolled away from it since
    // (one near the end of a page may stay low in the window).
    var hash = decodeURIComponent(location.hash.slice(1));
    var target = hash && ids.indexOf(hash) >= 0 && document.getElementById(hash);
    if (target) {
      var top = target.getBoundingClientRect().top;
      var atEnd = window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 2;
      if (top > -2 && (top < line || (atEnd && top < window.innerHeight))) return hash;
    }
    // Else the section that starts last above the upper third of the window:
    // `ids` is in no particular order, so compare positions, not list places.
    var best = null, bestTop = -Infinity;
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (!el) return;
      var top = el.getBoundingClientRect().top;
      if (top < line && top > bestTop) {
        best = id;
        bestTop = top;
      }
    });
    return best;
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-handbook-sections]");
    if (!link) return;
    var map = JSON.parse(link.getAttribute("data-handbook-sections") || "{}");
    var id = currentSection(Object.keys(map));
    if (id) link.href = map[id];
  });
})();
