"""Which wire format each route speaks: the simulator's dispatch table.

Paths are under `/<platform>/<pool>/`; a `{model}` in the path names the model, as the cloud
platforms do. A backend's `api` picks its wire format; a request on another API's path is 404.
"""

from __future__ import annotations

from canary_sim.anthropic_wire import ANTHROPIC_MESSAGES
from canary_sim.bedrock_wire import BEDROCK_CONVERSE, BEDROCK_INVOKE
from canary_sim.openai_wire import OPENAI_CHAT
from canary_sim.records import WireFormat
from canary_sim.responses_wire import AZURE_OPENAI_CHAT, OPENAI_RESPONSES
from canary_sim.vertex_wire import VERTEX_ANTHROPIC, VERTEX_GEMINI

WIRES: dict[str, WireFormat] = {
    w.api: w
    for w in (
        OPENAI_CHAT,
        ANTHROPIC_MESSAGES,
        BEDROCK_CONVERSE,
        BEDROCK_INVOKE,
        VERTEX_ANTHROPIC,
        VERTEX_GEMINI,
        OPENAI_RESPONSES,
        AZURE_OPENAI_CHAT,
    )
}
_VERTEX = "v1/projects/{project}/locations/{location}/publishers"
ROUTES: tuple[tuple[WireFormat, str], ...] = (
    (OPENAI_CHAT, "v1/chat/completions"),
    (ANTHROPIC_MESSAGES, "v1/messages"),
    (BEDROCK_CONVERSE, "model/{model}/converse"),
    (BEDROCK_INVOKE, "model/{model}/invoke"),
    (VERTEX_ANTHROPIC, _VERTEX + "/anthropic/models/{model}:rawPredict"),
    (VERTEX_GEMINI, _VERTEX + "/google/models/{model}:generateContent"),
    (OPENAI_RESPONSES, "v1/responses"),
    (AZURE_OPENAI_CHAT, "openai/deployments/{model}/chat/completions"),
)
#: Platforms that stream on a path of its own rather than with `stream: true` in the body.
STREAM_ROUTES: tuple[tuple[WireFormat, str], ...] = (
    (BEDROCK_CONVERSE, "model/{model}/converse-stream"),
    (BEDROCK_INVOKE, "model/{model}/invoke-with-response-stream"),
    (VERTEX_ANTHROPIC, _VERTEX + "/anthropic/models/{model}:streamRawPredict"),
    (VERTEX_GEMINI, _VERTEX + "/google/models/{model}:streamGenerateContent"),
)
