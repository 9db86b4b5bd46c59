/* Edition links keep the reader on the section in view, where the other edition has it.
   Without JavaScript they lead to the same page (or the start page). */
(function () {
  "use strict";
  function currentSection(ids) {
    var hash = decodeURIComponent(location.hash.slice(1));
    if (hash && ids.indexOf(hash) >= 0) return hash;
    var best = null;
    ids.forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.getBoundingClientRect().top < window.innerHeight / 3) best = id;
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
