"""The ``rezept`` directive: a recipe card that closes a practical section.

Written in MyST as::

    :::{rezept} Eine Lenkungsgruppe einrichten
    :zeitaufwand: zwei bis drei Monate
    :schwierigkeit: mittel

    - first ingredient (Zutaten: a bullet list)

    1. first step (Zubereitung: a numbered list)

    - first tip (Tipps: an optional second bullet list)
    :::

The card is made of plain docutils nodes (a titled container, a field list and
lists), so every builder, rst2pdf included, renders it without special support.
"""

from __future__ import annotations

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.locale import get_translation
from sphinx.util.docutils import SphinxDirective

_ = get_translation("handbook")

DIFFICULTIES = ("leicht", "mittel", "anspruchsvoll")


def _difficulty(argument: str) -> str:
    return directives.choice(argument, DIFFICULTIES)


class RecipeDirective(SphinxDirective):
    """A recipe card: Zutaten, Zubereitung, Zeitaufwand, Schwierigkeitsgrad, Tipps."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {
        "zeitaufwand": directives.unchanged_required,
        "schwierigkeit": _difficulty,
        "name": directives.unchanged,
    }

    def run(self) -> list[nodes.Node]:
        for option in ("zeitaufwand", "schwierigkeit"):
            if option not in self.options:
                raise self.error(f"rezept: die Option :{option}: fehlt.")

        body = nodes.Element()
        self.state.nested_parse(self.content, self.content_offset, body)
        ingredients, steps, tips = self._split(body.children)

        card = nodes.container(classes=["rezept"])
        self.set_source_info(card)
        self.add_name(card)
        title = nodes.rubric("", "", classes=["rezept-titel"])
        title += nodes.Text(_("Rezept: %s") % self.arguments[0])
        card += title

        facts = nodes.field_list(classes=["rezept-fakten"])
        facts += _field(_("Zeitaufwand"), self.options["zeitaufwand"])
        facts += _field(_("Schwierigkeitsgrad"), self.options["schwierigkeit"])
        card += facts

        for heading, part in ((_("Zutaten"), ingredients), (_("Zubereitung"), steps), (_("Tipps"), tips)):
            if part is None:
                continue
            card += nodes.rubric("", heading, classes=["rezept-teil"])
            card += part
        return [card]

    def _split(self, children: list[nodes.Node]):
        kinds = [type(child) for child in children]
        if kinds not in (
            [nodes.bullet_list, nodes.enumerated_list],
            [nodes.bullet_list, nodes.enumerated_list, nodes.bullet_list],
        ):
            raise self.error(
                "rezept: erwartet eine Aufzählung (Zutaten), eine nummerierte Liste "
                "(Zubereitung) und optional eine zweite Aufzählung (Tipps), sonst nichts."
            )
        ingredients, steps, *rest = children
        return ingredients, steps, (rest[0] if rest else None)


def _field(name: str, value: str) -> nodes.field:
    return nodes.field("", nodes.field_name("", name), nodes.field_body("", nodes.paragraph("", value)))


def setup_recipe(app) -> None:
    app.add_directive("rezept", RecipeDirective)
