"""Ask the archive: questions answered from what was said in the videos, every claim cited to its second."""

from pipeline.ask.answers import Answer, AnswerError, AnswerEvent, Asker, Citation, Claim, Dropped
from pipeline.ask.evidence import Evidence, EvidenceFinder, Scope

__all__ = ["Answer", "AnswerError", "AnswerEvent", "Asker", "Citation", "Claim", "Dropped", "Evidence", "EvidenceFinder", "Scope"]
