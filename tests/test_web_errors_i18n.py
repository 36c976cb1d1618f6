"""Refusals in the reader's language: a Polish partner, a Chinese partner and the office in
Chinese meet each kind of refusal through the portal (403, 404, 400, a bulk decision's
refused rows, a wrong login) and read it in their language, with its figures (ids in
<code>, dates in the locale's form) and no English; the JSON keeps the English text and
gives the template and figures."""

from __future__ import annotations

import re

import pytest
from pagetext import reader_problems
from starlette.testclient import TestClient

from paymaster.errors import PaymasterError, Problem
from paymaster.services import payouts, registrations, statements_render
from paymaster.services.accounts import DEMO_ACCOUNTS
from paymaster.web.app import create_app
from paymaster.web.catalog import LANGUAGES, load
from paymaster.web.i18n import Formatter

GL, TIA = "generuj-leady", "trade-in-accelerator"
PASSWORDS = {user: password for user, password, *_ in DEMO_ACCOUNTS}


def _as(client: TestClient, user: str, language: str) -> str:
    client.cookies.clear()
    token = client.post("/api/login", json={"username": user, "password": PASSWORDS[user]}
                        ).json()["csrf_token"]
    client.post("/language", data={"lang": language, "back": "/me", "csrf_token": token})
    return token


def test_every_refusal_speaks_the_readers_language(demo_workspace) -> None:
    ws = demo_workspace
    client = TestClient(create_app(ws))
    found: list[str] = []

    def refused(language: str, method: str, path: str, status: int, *said: str,
                **kwargs) -> str:
        answer = client.request(method, path, **kwargs)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
        for words in said:
            assert words in answer.text, (path, words, answer.text)
        found.extend(reader_problems(language, path, answer.text))
        return answer.text

    # A Polish partner (alfa, payee P1 of generuj-leady).
    token = _as(client, "alfa", "pl")
    refused("pl", "GET", "/office", 403, "brak uprawnień",
            "<code>alfa</code> ma rolę: partner; strony biura programu są tylko dla biura")
    refused("pl", "GET", f"/programs/{GL}/status?payee=P2", 403,
            "<code>alfa</code> nie ma wglądu w dane odbiorcy <code>P2</code>")
    refused("pl", "GET", f"/programs/{GL}/disputes/999", 404, "nieznana reklamacja 999")
    line = "P1|2018-04|deal|S99"
    refused("pl", "POST", f"/programs/{GL}/disputes", 400,
            f"brak pozycji wypłaty <code>{line}</code> dla odbiorcy <code>P1</code>",
            "wybierz jedną z pozycji swojego zestawienia",
            data={"kind": "line", "line_key": line, "description": "brak",
                  "csrf_token": token})
    refused("pl", "GET", f"/programs/{GL}/registrations?q=a%01b", 400,
            "pole <code>q</code> zawiera znak sterujący <code>U+0001</code>",
            "usuń go (dozwolone są tylko tabulator i znaki nowego wiersza)")
    refused("pl", "POST", "/login", 401, "Nieprawidłowa nazwa użytkownika lub hasło.",
            data={"username": "alfa", "password": "not-the-password", "csrf_token": token})

    # A Chinese partner (partner-d, payee D of trade-in-accelerator).
    _as(client, "partner-d", "zh")
    refused("zh", "GET", f"/office/{TIA}/registrations", 403,
            "<code>partner-d</code> 的角色是：合作伙伴；计划办公室的页面仅供办公室使用")
    refused("zh", "GET", f"/programs/{GL}/disputes", 403,
            f"<code>partner-d</code> 未参与计划 <code>{GL}</code>")
    refused("zh", "GET", f"/programs/{TIA}/disputes/999", 404, "未知争议 999")

    # The office in Chinese: a bulk rejection of a registration decided already and of
    # one that does not exist; bad filters; an unknown batch and dispute.
    token = _as(client, "admin", "zh")
    decided = next(r for r in registrations.listing(ws, GL) if r.status == "accepted")
    at = decided.decided_at
    refused("zh", "POST", f"/office/{GL}/registrations/bulk", 200,
            f"报备 <code>{decided.registration_id}</code> 当前状态已为：已接受",
            f"由 <code>{decided.decided_by}</code> 于 {at.year}年{at.month}月{at.day}日 ",
            "未知报备 <code>R-NONE</code>",
            data={"ids": [decided.registration_id, "R-NONE"], "accept": "false",
                  "reason": "重复", "csrf_token": token})
    refused("zh", "POST", f"/office/{GL}/registrations/bulk", 400,
            "统一填写原因：拒绝时须填写原因",
            data={"ids": [decided.registration_id], "accept": "false", "csrf_token": token})
    refused("zh", "GET", f"/office/{GL}/registrations?state=nope&sort=x&from=2018-05-01"
            "&to=2018-04-01", 400,
            "报备中没有状态 <code>nope</code>", "状态可选：已提交, 已接受, 已拒绝",
            "不能按 <code>x</code> 排序", "日期范围的结束早于开始",
            "请填写不早于 2018年5月1日 的结束日期")
    refused("zh", "GET", f"/office/{GL}/payouts/NOPE/file", 404,
            "未知支付批次 <code>NOPE</code>")
    refused("zh", "POST", f"/office/{GL}/disputes/999/resolve", 404, "未知争议 999",
            data={"accept": "false", "resolution": "不成立", "csrf_token": token})
    assert not found, "\n".join(found)

    # The API keeps the English text, and gives the template and its figures to translate.
    problem = client.get(f"/api/office/{GL}/registrations", params={"state": "nope"}
                         ).json()["error"]["problems"][0]
    assert problem["message"] == "no state 'nope' in registrations"
    assert problem["template"] == "no state '%(state)s' in %(queue)s"
    assert problem["args"] == {"state": "nope", "queue": "registrations",
                               "states": ["submitted", "accepted", "rejected"]}
    assert problem["hint"] == "state is one of: submitted, accepted, rejected"
    assert problem["hint_template"] == "state is one of: %(states)s"


def test_a_command_line_hint_stays_off_the_page_and_the_templates_are_translated() -> None:
    """A hint naming a command is for the CLI (and the JSON); every template of the
    services and the web has pl and zh translations with the same placeholders."""
    problem = Problem.of("unknown dispute %(dispute)s", dispute=7,
                         cli_hint="list them with: paymaster dispute list PROGRAM")
    assert str(problem) == "unknown dispute 7 (list them with: paymaster dispute list PROGRAM)"
    assert Formatter("pl").problem(problem) == "nieznana reklamacja 7"
    assert Formatter("en").problem(problem) == "unknown dispute 7"
    for language in LANGUAGES:
        catalog = load(language)
        for message in catalog:
            if message.id and any("services/" in where or where.endswith(
                    ("limits.py", "workspace.py", "filecheck.py", "datafiles.py",
                     "validation.py")) for where, _line in message.locations):
                assert message.string, (language, message.id)
                assert sorted(re.findall(r"%\(\w+\)s", message.string)) == sorted(
                    re.findall(r"%\(\w+\)s", message.id)), (language, message.id)


def _problem_rows(page: str) -> list[tuple[str, str, str]]:
    """The imports page's problems: (row, column, message) as the reader reads them."""
    return re.findall(r'<tr class="problem">\s*<td class="num">(\d*)</td>\s*<td>([^<]*)</td>'
                      r"\s*<td>(.*?)</td>\s*</tr>", page, re.S)


def test_a_bad_import_and_a_bad_request_speak_the_readers_language(demo_workspace) -> None:
    """The office imports a bad file in Polish and in Chinese: each problem is located
    (row, column) and said in the reader's language with its figures; a request the
    portal cannot read (a 422), an unknown address and a wrong method likewise, never
    pydantic's or Starlette's English."""
    client = TestClient(create_app(demo_workspace))
    found: list[str] = []
    header = "partner_id,level,valid_from,valid_to\n"

    token = _as(client, "admin", "pl")
    page = client.post(f"/office/{TIA}/imports", data={"table": "certifications",
                                                      "csrf_token": token},
                       files={"file": ("cert.csv", (header + "D,gold,15.02.2008,2008-12-31\n"
                                                    "D,,2008-01-01,2008-12-31\n").encode(),
                                       "text/csv")})
    assert page.status_code == 400, page.text[:300]
    assert sorted(_problem_rows(page.text)) == [
        ("2", "valid_from", "„<code>15.02.2008</code>” nie jest prawidłową datą (wpisuj daty "
                            "jako RRRR-MM-DD)"),
        ("3", "level", "jest puste; wartość jest wymagana")]
    found.extend(reader_problems("pl", "/office/imports (pl)", page.text))

    token = _as(client, "admin", "zh")
    page = client.post(f"/office/{TIA}/imports", data={"table": "certifications",
                                                      "csrf_token": token},
                       files={"file": ("cert.csv", (header + "D,gold\n").encode(), "text/csv")})
    assert page.status_code == 400, page.text[:300]
    assert _problem_rows(page.text) == [
        ("2", "", "有 2 个值；标题行有 4 列：缺少 <code>valid_from</code>, <code>valid_to</code> "
                  '的值 <span class="muted">(请检查此行的逗号和引号)</span>')]
    found.extend(reader_problems("zh", "/office/imports (zh)", page.text))

    # Requests the portal cannot read: a page number that is no number, a size below its
    # least, a form without its table; an unknown address; a wrong method.
    page = client.get("/office/ledger", params={"page": "abc", "size": "0"})
    assert page.status_code == 422, page.text[:300]
    for said in ("请求无效", "字段 <code>page</code> 必须是整数", "字段 <code>size</code> 不得小于 1"):
        assert said in page.text, (said, page.text)
    found.extend(reader_problems("zh", "/office/ledger?page=abc", page.text))
    page = client.post(f"/office/{GL}/imports", data={"csrf_token": token})
    assert page.status_code == 422 and "字段 <code>table</code> 为必填项" in page.text, page.text
    found.extend(reader_problems("zh", "/office/imports (no table)", page.text))
    for method, path, status in (("GET", "/no-such-page", 404), ("DELETE", "/office", 405)):
        page = client.request(method, path)
        assert page.status_code == status, (path, page.status_code)
        found.extend(reader_problems("zh", path, page.text))
    assert not found, "\n".join(found)

    # The API keeps the English and gives the template with its figures.
    problem = client.get("/api/office/ledger", params={"size": "0"}
                         ).json()["error"]["problems"][0]
    assert (problem["message"], problem["field"]) == ("size must be at least 1", "size")
    assert problem["args"]["limit"] == 1 and problem["template"] == "%(field)s must be at least " \
        "%(limit)s"


def test_payout_and_statement_refusals_are_templates(tmp_path) -> None:
    """What a finance user can meet writing a payout file or a statement is said in the
    reader's language, while the command line keeps its English (and its command)."""
    out = tmp_path / "no-folder" / "batch.csv"
    with pytest.raises(PaymasterError) as refused:
        payouts.check_target(out)
    (problem,) = refused.value.problems
    assert problem.message == f"{out}: folder {out.parent} does not exist"
    assert Formatter("pl").problem_message(problem) == (
        f"<code>{out}</code>: folder <code>{out.parent}</code> nie istnieje")
    taken = tmp_path / "batch.csv"
    taken.write_text("")
    with pytest.raises(PaymasterError) as refused:
        payouts.check_target(taken)
    (problem,) = refused.value.problems
    assert "paymaster pay show BATCH --out FILE" in str(problem)
    assert Formatter("zh").problem(problem) == (
        f"<code>{taken}</code> 已存在：支付文件从不覆盖（请选择新的文件名）")
    with pytest.raises(PaymasterError) as refused:
        statements_render.resolve_locale("xx")
    (problem,) = refused.value.problems
    assert problem.message == "unsupported statement locale 'xx'"
    assert str(Formatter("pl").problem_message(problem)) == \
        "nieobsługiwany język zestawienia <code>&#39;xx&#39;</code>"
