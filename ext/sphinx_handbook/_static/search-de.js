/* Two gaps in Sphinx's German texts for the search page (translations.js):
   the plural rule "(n != 1)" becomes a function that returns true or false, so
   ngettext looks up messages[true] and the search stops with an error; and the
   message that says how many pages were found has an empty German translation,
   so readers would be told nothing. Plural forms are indexed by number, and the
   message gets its German text. */
(function () {
  "use strict";
  if (typeof Documentation === "undefined") return;
  var pluralForm = Documentation.PLURAL_EXPR;
  Documentation.PLURAL_EXPR = function (n) {
    return Number(pluralForm(n));
  };
  var found = "Search finished, found one page matching the search query.";
  var forms = Documentation.TRANSLATIONS[found];
  if (Documentation.LOCALE === "de" && !(forms && forms[0] && forms[1])) {
    Documentation.TRANSLATIONS[found] = [
      "Suche beendet: eine Seite passt zur Suchanfrage.",
      "Suche beendet: ${resultCount} Seiten passen zur Suchanfrage.",
    ];
  }
})();
