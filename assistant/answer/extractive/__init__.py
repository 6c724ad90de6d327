"""The extractive composer: no language model; the answer quotes the notes' best lines, each cited.

`selection` scores and picks lines within a word budget, `sides` handles comparison questions
(which lines are about which side), `rendering` lays the picked lines out as cited bullets, and
`composer` ties them together with the line vectors (stored token vectors, else embedded lines).
"""

from assistant.answer.extractive.composer import NOTICE, ExtractiveComposer, create

__all__ = ["NOTICE", "ExtractiveComposer", "create"]
