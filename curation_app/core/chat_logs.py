"""The chat-log dumps as they are distributed: LMSYS-Chat-1M and WildChat (1M, and its other releases).

A row is one conversation between a user and one model, under `conversation`, a list of turns
`{"role": "user" | "assistant", "content": ...}`; WildChat's turns carry more keys (`timestamp`,
`country`, `hashed_ip`, `header`, `language`, `redacted`, `state`, `toxic`, `turn_identifier`).
What a row becomes:

- messages: the whole conversation as `{role, content}` (the first user turn is the query). The
  turns' other keys go to the metadata under `turn_metadata`, one object per turn, so they never
  reach a release, whose `messages` hold role and content only.
- original id: `conversation_id` (LMSYS-Chat-1M, early WildChat) or `conversation_hash` (WildChat-1M).
  A row without one is refused: the id is how a dump's conversation is found again.
- baseline: the first answer in the conversation, as a baseline of the row's `model`.
- metadata: every other field of the row (`model`, `turn`, `language`, `openai_moderation`,
  `redacted`, `timestamp`, `toxic`, ...) under its own name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from curation_app.core.readers import RowProblem, type_name

LMSYS_CHAT = "lmsys-chat"
WILDCHAT = "wildchat"
SHAPES = (LMSYS_CHAT, WILDCHAT)
CONVERSATION = "conversation"
TURN_METADATA = "turn_metadata"
MODEL = "model"
# Fields only WildChat rows have; early WildChat named its id `conversation_id`, as LMSYS does.
_WILDCHAT_FIELDS = ("conversation_hash", "detoxify_moderation", "hashed_ip", "timestamp")
_ID_FIELDS = {LMSYS_CHAT: ("conversation_id",), WILDCHAT: ("conversation_hash", "conversation_id")}
_ROLES = ("user", "assistant", "system")
_TURN_TEXT = ("role", "content")


@dataclass(frozen=True)
class ConversationFields:
    """What a chat-log row holds besides its messages."""

    id_field: str
    original_id: str
    model: str | None
    first_answer: str | None  # the first assistant turn after the first user turn
    metadata: dict


@dataclass(frozen=True)
class ChatLogShape:
    name: str  # lmsys-chat | wildchat
    field: str = CONVERSATION

    def messages(self, record: dict) -> list[dict]:
        return [{"role": role, "content": content} for role, content, _ in self._turns(record)]

    def fields(self, record: dict) -> ConversationFields:
        id_field, original_id = self._original_id(record)
        model = record.get(MODEL)
        if model is not None and not isinstance(model, str):
            raise RowProblem(f"wrong type: {MODEL!r} must be a string, got {type_name(model)}")
        turns = self._turns(record)
        first_user = next(index for index, (role, _, _) in enumerate(turns) if role == "user")
        first_answer = next((content for role, content, _ in turns[first_user + 1:] if role == "assistant"), None)
        metadata = {name: value for name, value in record.items() if name not in (self.field, id_field)}
        per_turn = [rest for _, _, rest in turns]
        if any(per_turn):
            metadata[TURN_METADATA] = per_turn
        return ConversationFields(id_field, original_id, model.strip() if model else None, first_answer, metadata)

    def _turns(self, record: dict) -> list[tuple[str, str, dict]]:
        """(role, content, the turn's other keys) of each turn, or the first problem found."""
        if self.field not in record:
            raise RowProblem(f"missing text: no {self.field!r} field")
        conversation = record[self.field]
        if conversation is None:
            raise RowProblem(f"missing text: {self.field!r} is empty")
        if not isinstance(conversation, list):
            raise RowProblem(f"wrong type: {self.field!r} must be a list of turns, got {type_name(conversation)}")
        if not conversation:
            raise RowProblem(f"empty text: {self.field!r} is an empty list")
        turns = []
        for index, turn in enumerate(conversation, start=1):
            where = f"{self.field}[{index}]"
            if not isinstance(turn, dict):
                raise RowProblem(f"wrong type: {where} must be an object, got {type_name(turn)}")
            role, content = turn.get("role"), turn.get("content")
            if not isinstance(role, str):
                raise RowProblem(f"missing role: {where} has no 'role'" if role is None else
                                 f"wrong type: {where} role must be a string, got {type_name(role)}")
            if role.lower() not in _ROLES:
                raise RowProblem(f"{where} has an unknown role {role[:40]!r}")
            if not isinstance(content, str):
                raise RowProblem(f"missing text: {where} has no 'content'" if "content" not in turn else
                                 f"wrong type: {where} content must be a string, got {type_name(content)}")
            turns.append((role.lower(), content, {k: v for k, v in turn.items() if k not in _TURN_TEXT}))
        if not any(role == "user" for role, _, _ in turns):
            raise RowProblem(f"missing text: {self.field!r} has no user turn")
        return turns

    def _original_id(self, record: dict) -> tuple[str, str]:
        names = _ID_FIELDS[self.name]
        name = next((n for n in names if n in record), names[0])
        value: Any = record.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            raise RowProblem(f"missing id: no {name!r} field" if name not in record else f"missing id: {name!r} is empty")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise RowProblem(f"wrong type: {name!r} must be a string or a whole number, got {type_name(value)}")
        return name, str(value).strip()


def detect_chat_log(record: dict) -> ChatLogShape | None:
    """The chat-log shape of a row, if it is one: a `conversation` field (no other shape uses it)."""
    if CONVERSATION not in record:
        return None
    return ChatLogShape(WILDCHAT if any(name in record for name in _WILDCHAT_FIELDS) else LMSYS_CHAT)
