"""`LocalChatOpenAI`: `ChatOpenAI` for llama.cpp's OpenAI-compatible server, with the
workarounds for the server's known gaps in one place.

- The server ignores `max_completion_tokens` (which langchain-openai sends): `max_tokens` goes
  in the request body instead.
- Streaming replies carry no usage: streaming is off by default, so `usage_metadata` is
  always present.
- `response_format` of type `json_schema` fails (HTTP 500); the server takes `json_object`
  with an optional `schema`, which it turns into a grammar. `with_structured_output` and the
  `json_schema` field use that.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from langchain_core.language_models import LanguageModelInput
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.function_calling import convert_to_json_schema
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

__all__ = ["LocalChatOpenAI"]


def _schema_of(response_format: Any) -> dict[str, Any] | None:
    if not isinstance(response_format, dict):
        return None
    schema = response_format.get("schema")
    if isinstance(schema, dict):
        return schema
    inner = response_format.get("json_schema")
    nested = inner.get("schema") if isinstance(inner, dict) else None
    return nested if isinstance(nested, dict) else None


class LocalChatOpenAI(ChatOpenAI):
    """A chat model served by llama.cpp's server on this machine."""

    json_schema: dict[str, Any] | None = None
    """A JSON schema every reply is forced into (a grammar), for models that cannot chat but
    can fill a schema. A call's own structured output schema takes precedence."""
    disable_streaming: bool = True

    def _get_request_payload(self, input_: LanguageModelInput, *, stop: list[str] | None = None,
                             **kwargs: Any) -> dict[str, Any]:
        payload = super()._get_request_payload(input_, stop=stop, **kwargs)
        extra = dict(payload.get("extra_body") or {})
        for key in ("max_completion_tokens", "max_tokens"):
            if key in payload:
                extra["max_tokens"] = payload.pop(key)
        response_format = payload.pop("response_format", None)
        schema = _schema_of(response_format) or self.json_schema
        if schema is not None:
            extra["response_format"] = {"type": "json_object", "schema": schema}
        elif isinstance(response_format, dict) and response_format.get("type") == "json_object":
            extra["response_format"] = {"type": "json_object"}
        payload.pop("stream_options", None)
        if extra:
            payload["extra_body"] = extra
        return payload

    def with_structured_output(self, schema: Any = None, *, method: Any = None,
                               include_raw: bool = False, strict: bool | None = None,
                               **kwargs: Any) -> Runnable[LanguageModelInput, Any]:
        is_model = isinstance(schema, type) and issubclass(schema, BaseModel)
        json_schema = schema if isinstance(schema, dict) else convert_to_json_schema(schema)
        llm = self.bind(response_format={"type": "json_object", "schema": json_schema})
        parser: Runnable[Any, Any] = PydanticOutputParser(pydantic_object=schema) if is_model \
            else JsonOutputParser()
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(parsed=itemgetter("raw") | parser,
                                            parsing_error=lambda _: None)
        fallback = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=llm) | parsed.with_fallbacks([fallback],
                                                            exception_key="parsing_error")
