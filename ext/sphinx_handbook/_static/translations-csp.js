/* Sphinx's translations.js hands its plural rule to Documentation.addTranslations,
   which turns the text "(n != 1)" into code with `new Function`. The service's
   Content-Security-Policy forbids evaluating strings ('unsafe-eval' is not
   allowed), so on every translated page that call threw and left the locale
   unset. This runs between doctools.js and translations.js and takes the
   catalogue without evaluating anything: the rules of German and English and
   the other one-or-many languages are recognised, any other gets Sphinx's
   default (singular for one, plural otherwise). */
(function () {
  "use strict";
  if (typeof Documentation === "undefined") return;
  var rules = {
    "(n != 1)": function (n) { return n !== 1 ? 1 : 0; },
    "(n > 1)": function (n) { return n > 1 ? 1 : 0; },
    "0": function () { return 0; },
  };
  Documentation.addTranslations = function (catalog) {
    Object.assign(Documentation.TRANSLATIONS, catalog.messages);
    var rule = rules[String(catalog.plural_expr).replace(/\s+/g, " ").trim()];
    Documentation.PLURAL_EXPR = rule || function (n) { return n === 1 ? 0 : 1; };
    Documentation.LOCALE = catalog.locale;
  };
})();
