"""A small OpenAI-compatible server for tests: canned completions with a usage block.

It answers DSPy's ChatAdapter prompts by the output fields they ask for, so the real
HTTP path of a provider (DSPy's client, our error mapping, usage accounting) is tested
without the network. Keys and model names trigger failures: key ``bad`` → 401, key
``rate`` → 429, model ``missing-model`` → 404, model ``slow-model`` → answers after
``SLOW_SECONDS``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROMPT_TOKENS = 120
COMPLETION_TOKENS = 30
SLOW_SECONDS = 3.0
OUTPUT_FIELDS = re.compile(r"Your output fields are:\s*(.*?)\n(?:All interactions|In adhering)", re.DOTALL)

CANNED = {
    "exact_word_complexity": "basic",
    "analysis_query": "True",
    "plan": "planner_statistical_analytics_agent",
    "plan_instructions": json.dumps(
        {"planner_statistical_analytics_agent": {"create": [], "use": ["df"], "instruction": "count the rows"}}
    ),
    "code": "rows = len(df)\nprint(rows)\nprint('Key findings:')\nprint(f'- Rows: {rows}')",
    "summary": "The dataset has the rows printed above.",
    "name": "Gapminder Rows Count",
    "answer": "Hello from the fake model.",
    "edited_code": "print(len(df) * 2)",
    "fixed_code": "print(len(df))",
    "description": "A fake description.",
    "data_context": "A fake context.",
    "reasoning": "Because.",
}


class FakeOpenAI(BaseHTTPRequestHandler):
    requests: list[dict] = []

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        FakeOpenAI.requests.append({"path": self.path, "auth": self.headers.get("authorization"), "body": body})
        key = (self.headers.get("authorization") or "").removeprefix("Bearer ").strip()
        model = body.get("model", "")
        if key == "bad":
            return self._reply(
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        if key == "rate":
            return self._reply(429, {"error": {"message": "Rate limit reached", "type": "rate_limit_error"}})
        if model == "missing-model":
            return self._reply(
                404,
                {
                    "error": {
                        "message": f"The model `{model}` does not exist",
                        "type": "invalid_request_error",
                        "code": "model_not_found",
                    }
                },
            )
        if model == "slow-model":
            time.sleep(SLOW_SECONDS)
        system = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), "")
        if isinstance(system, list):
            system = "".join(part.get("text", "") for part in system)
        match = OUTPUT_FIELDS.search(system)
        fields = re.findall(r"`(\w+)`", match.group(1)) if match else ["answer"]
        content = "\n\n".join(f"[[ ## {f} ## ]]\n{CANNED.get(f, 'x')}" for f in fields) + "\n\n[[ ## completed ## ]]"
        return self._reply(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": PROMPT_TOKENS,
                    "completion_tokens": COMPLETION_TOKENS,
                    "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
                },
            },
        )

    def log_message(self, *args) -> None:
        pass


def start() -> tuple[ThreadingHTTPServer, str]:
    FakeOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"
