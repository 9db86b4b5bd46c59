/* Edition links keep the reader on the section in view, where the other edition has it, and their
   notes say whether that section (not just the page) differs there.
   Without JavaScript they lead to the same page (or the start page) and speak of the page. */
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
  function refreshChanges() {
    document.querySelectorAll(".handbook-change[data-handbook-changes]").forEach(function (note) {
      var changes = JSON.parse(note.getAttribute("data-handbook-changes") || "{}");
      if (!note.hasAttribute("data-page")) note.setAttribute("data-page", note.textContent);
      var id = currentSection(Object.keys(changes));
      note.textContent = id ? note.getAttribute("data-" + changes[id]) : note.getAttribute("data-page");
    });
  }
  var pending = false;
  window.addEventListener("scroll", function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      refreshChanges();
    });
  }, { passive: true });
  window.addEventListener("hashchange", refreshChanges);
  refreshChanges();
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-handbook-sections]");
    if (!link) return;
    var map = JSON.parse(link.getAttribute("data-handbook-sections") || "{}");
    var id = currentSection(Object.keys(map));
    if (id) link.href = map[id];
  });
})();
