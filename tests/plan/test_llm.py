"""The LLM planner against a small fake OpenAI-compatible server on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kinora.errors import KinoraError
from kinora.plan.llm import llm_planner
from kinora.plan.truth import count_invented

TEXT = "A red ball rolls left. Then it hits a blue cube."
GOOD = {"shots": [
    {"sentence": "A red ball rolls left.", "scene": 1, "spec": {"objects": [
        {"id": "e1", "shape": "sphere", "color": "red", "motion": "roll", "direction": "left"}],
        "camera": {"motion": "static"}}},
    {"sentence": "Then it hits a blue cube.", "scene": 1, "spec": {"objects": [
        {"id": "e1", "shape": "sphere", "color": "green", "motion": "push", "target": "e2"},
        {"id": "e2", "shape": "cube", "color": "blue"}], "camera": {"motion": "pan_left"}}}]}


class Fake(BaseHTTPRequestHandler):
    answer: object = None
    seen: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Fake.seen.append((self.path, body))
        content = Fake.answer if isinstance(Fake.answer, str) else json.dumps(Fake.answer)
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def server():
    srv = HTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()


def test_a_valid_answer_becomes_a_plan(server):
    Fake.answer, Fake.seen = GOOD, []
    plan = llm_planner(server, "fake-model")(TEXT, seconds_per_shot=3)
    path, body = Fake.seen[0]
    assert path == "/v1/chat/completions" and body["model"] == "fake-model"
    assert body["messages"][1]["content"] == TEXT
    assert plan.planner == "llm" and len(plan.shots) == 2
    assert plan.shots[1].source == {"start": 23, "end": 48, "text": "Then it hits a blue cube."}
    # the entity keeps its first look, the second shot continues the first (same scene, static camera)
    assert plan.shots[1].spec.object("e1").color == "red" and plan.warnings
    assert plan.shots[1].continues and plan.shots[0].seconds == 3.0
    e1 = plan.shots[0].spec.object("e1").source["fields"]
    assert e1["color"]["text"] == "red" and e1["direction"]["text"] == "left"  # traced by the offline reader
    assert plan.shots[1].spec.camera.source.get("invented")  # "pan_left" is in no word of the text


def test_news_takes_no_llm_value_the_text_does_not_state(server):
    text = "Officials said a ball rolled left at 10:05 on Tuesday."
    Fake.answer = {"shots": [{"sentence": text, "spec": {"objects": [
        {"id": "e1", "shape": "sphere", "color": "purple", "size": "large", "material": "metal", "motion": "roll",
         "direction": "left", "speed": "fast"}], "camera": {"motion": "orbit_left"}}}]}
    plan = llm_planner(server, "fake-model")(text)
    assert plan.mode.mode == "news"
    spec = plan.shots[0].spec
    o = spec.object("e1")
    assert (o.shape, o.motion, o.direction) == ("sphere", "roll", "left")  # stated: kept, with their words
    assert (o.color, o.size, o.material, o.speed, spec.camera.motion) == ("red", "small", "rubber", "normal",
                                                                         "static")  # the convention
    assert o.source["fields"]["color"]["unstated"] and spec.camera.source["unstated"]
    assert count_invented(spec.to_dict()) == []


@pytest.mark.parametrize("answer, msg", [
    ("this is not json", "not valid JSON"),
    ({"scenes": []}, "no \"shots\" list"),
    ({"shots": [{"sentence": "A red ball rolls left.", "spec": {"objects": [{"id": "e1", "color": "orange"}]}}]},
     "unknown colour 'orange'"),
    ({"shots": [{"sentence": "A dragon flies.", "spec": {"objects": []}}]}, "not in the text"),
    ({"shots": [{"spec": {}}]}, "needs \"sentence\""),
])
def test_an_invalid_answer_is_refused_in_one_line(server, answer, msg):
    Fake.answer = answer
    with pytest.raises(KinoraError, match=msg):
        llm_planner(server, "fake-model")(TEXT)


def test_no_server_and_bad_settings():
    with pytest.raises(KinoraError, match="cannot reach the LLM planner"):
        llm_planner("http://127.0.0.1:9/v1", "m", timeout=2)(TEXT)
    with pytest.raises(KinoraError, match="http"):
        llm_planner("127.0.0.1:8000", "m")
    with pytest.raises(KinoraError, match="--model"):
        llm_planner("http://127.0.0.1:8000/v1", "")
