"""KestraClient's part of `contact forget` against a stand-in of Kestra 1.3's execution endpoints (httpx.MockTransport):
the executions labelled with the address, every execution of their correlation groups (the webhook's, the steps', the
schedule-plan's: they carry only `system.correlationId`), a scheduled send killed before it is deleted, and the
bulk delete with logs, metrics and files; a delete Kestra refuses as a whole is done one by one."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from christmas_tasks.adapters.kestra_api import KestraClient, KestraError
from christmas_tasks.adapters.kestra_executions import CORRELATION

JANE = "jane@example.com"


def execution(eid: str, flow: str, state: str, group: str, **labels: str) -> dict[str, Any]:
    tags = [{"key": key, "value": value} for key, value in labels.items()] + [{"key": CORRELATION, "value": group}]
    return {"id": eid, "namespace": "christmas", "flowId": flow, "state": {"current": state}, "labels": tags}


class Executions:
    """Kestra's executions: search by one label (and the namespace), kill, get, delete by ids (refused as a whole when
    one is missing or not ended, as ExecutionController does), delete one."""

    def __init__(self, *executions: dict[str, Any]) -> None:
        self.store = {e["id"]: e for e in executions}
        self.asked: list[str] = []
        self.killed: list[str] = []
        self.refuse_bulk = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/main/executions")
        self.asked.append(f"{request.method} {path}")
        if request.method == "GET" and path == "/search":
            return self._search(request)
        if request.method == "DELETE" and path.endswith("/kill"):
            eid = path.split("/")[1]
            assert request.url.params["isOnKillCascade"] == "false"
            self.killed.append(eid)
            self.store[eid]["state"]["current"] = "KILLING"
            return httpx.Response(202)
        if request.method == "DELETE" and path == "/by-ids":
            assert dict(request.url.params) == {"deleteLogs": "true", "deleteMetrics": "true", "deleteStorage": "true"}
            ids = json.loads(request.content)
            if self.refuse_bulk or any(self.store.get(i, {}).get("state", {}).get("current") not in ("SUCCESS",
                                       "KILLED", "FAILED") for i in ids):
                return httpx.Response(400, json={"message": "invalid bulk delete"})
            for i in ids:
                del self.store[i]
            return httpx.Response(200, json={"count": len(ids)})
        eid = path.removeprefix("/")
        if eid not in self.store:
            return httpx.Response(404)
        if request.method == "GET":
            found = self.store[eid]
            if found["state"]["current"] == "KILLING":  # the executor ends a killed execution a moment later
                found["state"]["current"] = "KILLED"
            return httpx.Response(200, json=found)
        del self.store[eid]
        return httpx.Response(204)

    def _search(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        assert params.pop("filters[namespace][EQUALS]") == "christmas"
        page, size = int(params.pop("page")), int(params.pop("size"))
        ((name, value),) = params.items()
        key = name.removeprefix("filters[labels][EQUALS][").removesuffix("]")
        found = [e for e in self.store.values() if {"key": key, "value": value} in e["labels"]]
        return httpx.Response(200, json={"results": found[(page - 1) * size: page * size], "total": len(found)})


def client(kestra: Executions) -> KestraClient:
    return KestraClient("http://localhost:8080", "admin@example.com", "pw", transport=httpx.MockTransport(kestra))


@pytest.fixture
def kestra() -> Executions:
    return Executions(
        execution("w1", "assessment", "SUCCESS", "w1"),  # the webhook: the body, no label of ours
        execution("h1", "handle-event", "SUCCESS", "w1", contact=JANE, event="assessment", sequence="5day"),
        execution("s1", "step", "SUCCESS", "w1"),
        execution("p1", "schedule-plan", "SUCCESS", "w1"),
        execution("m2", "send-email", "SUCCESS", "w1", contact=JANE, sequence="5day", email_number="2"),
        execution("m3", "send-email", "CREATED", "w1"),  # scheduled for later; labelled once it has run
        execution("c1", "contact", "SUCCESS", "c1", contact=JANE),
        execution("w2", "assessment", "SUCCESS", "w2"),
        execution("h2", "handle-event", "SUCCESS", "w2", contact="bob@example.com"),
    )


def test_every_execution_of_the_address_and_of_its_correlation_groups_is_deleted(kestra: Executions) -> None:
    sleeps: list[float] = []
    done = client(kestra).forget_executions("contact", JANE, sleep=sleeps.append)
    assert done == {"found": 7, "killed": 1, "deleted": 7, "left": []}
    assert sorted(kestra.store) == ["h2", "w2"], "the other contact's executions stay"
    assert kestra.killed == ["m3"] and sleeps == [1.0], "the scheduled send killed, then deleted once it ended"
    assert kestra.asked[-1] == "DELETE /by-ids", "one bulk delete, with the logs, metrics and files"


def test_an_execution_that_does_not_end_is_left_and_named(kestra: Executions) -> None:
    stuck = kestra.store["m3"]

    def never(request: httpx.Request) -> httpx.Response:
        answer = kestra(request)
        stuck["state"]["current"] = "RUNNING"
        return answer

    sleeps: list[float] = []
    done = KestraClient("http://localhost:8080", "u", "pw", transport=httpx.MockTransport(never)).forget_executions(
        "contact", JANE, sleep=sleeps.append, wait=3)
    assert done["deleted"] == 6 and done["left"] == [{"id": "m3", "flow": "send-email", "state": "RUNNING"}]
    assert sleeps == [1.0, 1.0, 1.0] and "m3" in kestra.store


def test_a_bulk_delete_kestra_refuses_is_done_one_by_one(kestra: Executions) -> None:
    kestra.refuse_bulk = True
    done = client(kestra).forget_executions("contact", JANE, sleep=lambda _: None)
    assert done["deleted"] == 7 and sorted(kestra.store) == ["h2", "w2"]
    assert kestra.asked.count("DELETE /by-ids") == 1 and "DELETE /h1" in kestra.asked


def test_nothing_labelled_with_the_address_deletes_nothing(kestra: Executions) -> None:
    assert client(kestra).forget_executions("contact", "nobody@example.com", sleep=lambda _: None) == {
        "found": 0, "killed": 0, "deleted": 0, "left": []}
    assert not any(asked.startswith("DELETE") for asked in kestra.asked)


def test_searches_page_through_every_result() -> None:
    many = Executions(*(execution(f"x{n:03}", "send-email", "SUCCESS", f"x{n:03}", contact=JANE) for n in range(250)))
    found = client(many).search_executions({"filters[labels][EQUALS][contact]": JANE,
                                            "filters[namespace][EQUALS]": "christmas"})
    assert len(found) == 250 and many.asked.count("GET /search") == 3


def test_a_refusal_names_the_request_and_never_the_password() -> None:
    refusing = KestraClient("http://localhost:8080", "u", "S3cret-pw-never-shown",
                            transport=httpx.MockTransport(lambda r: httpx.Response(401, text="Unauthorized")))
    with pytest.raises(KestraError, match=r"GET http://localhost:8080/api/v1/main/executions/search -> HTTP 401") as e:
        refusing.correlated_executions("contact", JANE)
    assert "S3cret" not in str(e.value)
