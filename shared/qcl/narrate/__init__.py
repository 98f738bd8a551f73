"""Narration: analysis reports and questions → text in zh-TW or en that is checked against the data.

Layout: formats.py (one formatter per metric), findings_text.py + templates.py (template narratives, exact by
construction), mentions.py + claims.py + language.py + facts.py + grounding.py (the grounding check), prompts.py
(the model's prompts), intents.py + embeddings.py + questions.py (what a question is about), service.py (Narrator),
cli.py (`qcl narrate`, `qcl ask`, `qcl eval questions`).
"""

from qcl.narrate.errors import NarrationInputError, QuestionError, UnsupportedLanguageError
from qcl.narrate.formats import LANGUAGES, Language
from qcl.narrate.service import Narrator, TextModel

__all__ = [
    "LANGUAGES",
    "Language",
    "NarrationInputError",
    "Narrator",
    "QuestionError",
    "TextModel",
    "UnsupportedLanguageError",
]
