"""The dashboard: HTML pages over the store, for people in a browser.

`GET /dashboard` lists the campaigns and their state; `GET /dashboard/{name}`
is the campaign's report page (`loop.report`: the same interactive figures)
with the current round's proposals and, for an operator, approve / reject /
edit buttons that call the JSON API with `fetch()`.

Auth: a browser cannot send a bearer header when it navigates, so the token
is given once, by `GET /dashboard?token=...` or the login form
(`POST /dashboard/login`), and kept in an HttpOnly, SameSite=Strict cookie
(`loopwell_token`); the page's script never sees it. The JSON API accepts the
cookie too (`dependencies.current_token`), and a change made with it must
carry the header `X-Loopwell-Dashboard: 1`, which the buttons send and a
cross-site form cannot. plotly.js is served once, cached, from
`/dashboard/static/plotly.min.js`.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import lru_cache

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from loop.campaign.states import ExperimentState
from loop.service.dependencies import COOKIE, DASHBOARD_HEADER, READ, ServiceDep
from loop.service.tables import Role, Token, find_token
from loop.service.views import briefs

router = APIRouter(prefix="/dashboard", include_in_schema=False)
PLOTLY = "/dashboard/static/plotly.min.js"
#: how people read a campaign's status
STATES = {
    "created": "starting", "running": "running", "awaiting-approval": "ready to approve",
    "waiting-for-lab": "waiting for the lab", "paused": "paused", "cancelled": "cancelled",
    "done": "done",
}
_BADGES = """.s{display:inline-block;padding:1px 8px;border-radius:9px;background:#eee}
.s-awaiting-approval{background:#ffe3a3}.s-waiting-for-lab{background:#cfe3ff}
.s-done{background:#c9efc9}.s-paused,.s-cancelled{background:#ddd;color:#555}
nav{color:#555;margin-bottom:1em}.err{color:#a00}#proposals td,#proposals th{text-align:left}
#act{border:1px solid #ccc;border-radius:6px;padding:.2em 1em 1em;margin:1em 0}"""
_STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;
padding:0 1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 10px;
text-align:left}""" + _BADGES
_ICON = '<link rel="icon" href="data:,">'  # no /favicon.ico request (a console error)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8">
<title>{html.escape(title)}</title>{_ICON}<style>{_STYLE}</style></head><body>{body}
</body></html>""", status_code=status, headers={"Cache-Control": "no-store"})


def _login_form(why: str, status: int) -> HTMLResponse:
    return _page("loopwell: sign in", f"""<h1>loopwell dashboard</h1>
<p class="err">{html.escape(why)}</p>
<p>The dashboard needs a viewer or operator token (an operator may also approve, reject
and edit proposals). Make one on the server's host with
<code>loopwell token create --role viewer --name YOU</code> and paste it here, or open
<code>/dashboard?token=YOUR_TOKEN</code> once. It is kept in a cookie of this site only.</p>
<form method="post" action="/dashboard/login"><input type="password" name="token"
 size="50" placeholder="lw_..." autocomplete="off"> <button>Sign in</button></form>""", status)


class _NotAllowed(Exception):
    def __init__(self, why: str, status: int) -> None:
        self.why, self.status = why, status


def _reader(service, request: Request, secret: str | None = None) -> Token:
    secret = secret or request.cookies.get(COOKIE)
    auth = request.headers.get("authorization", "")
    if not secret and auth.lower().startswith("bearer "):
        secret = auth[7:].strip()
    if not secret:
        raise _NotAllowed("No token: sign in first.", 401)
    token = find_token(service.store.engine, secret)
    if token is None:
        raise _NotAllowed("Unknown or revoked token.", 401)
    if token.role not in READ:
        raise _NotAllowed(f"A {token.role} token may not read the dashboard; it needs a "
                          "viewer or operator token.", 403)
    return token


def _signed_in(request: Request, secret: str, to: str) -> RedirectResponse:
    out = RedirectResponse(to, status_code=303)
    out.set_cookie(COOKIE, secret, httponly=True, samesite="strict", path="/",
                   secure=request.url.scheme == "https", max_age=30 * 24 * 3600)
    return out


@router.get("", response_class=HTMLResponse)
def campaigns_page(request: Request, service: ServiceDep, token: str | None = None) -> Response:
    """The campaigns and their state; `?token=` signs in (and redirects, out of the URL)."""
    try:
        who = _reader(service, request, token)
    except _NotAllowed as exc:
        return _login_form(exc.why, exc.status)
    if token:
        return _signed_in(request, token, "/dashboard")
    rows = "".join(
        f'<tr><td><a href="/dashboard/{html.escape(b.name, quote=True)}">{html.escape(b.name)}'
        f'</a></td><td><span class="s s-{html.escape(b.status)}">'
        f'{html.escape(STATES.get(b.status, b.status))}</span></td><td>{b.n_rounds}</td>'
        f'<td>{b.n_measurements}</td><td>{b.updated_at:%Y-%m-%d %H:%M} UTC</td></tr>'
        for b in briefs(service))
    table = (f"<table><tr><th>campaign</th><th>state</th><th>rounds</th>"
             f"<th>measurements</th><th>last change</th></tr>{rows}</table>" if rows else
             "<p>No campaigns yet (<code>POST /campaigns</code> or <code>loopwell run</code>)."
             "</p>")
    return _page("loopwell: campaigns", f"""{_nav(who)}<h1>Campaigns</h1>{table}""")


@router.post("/login")
def login(request: Request, service: ServiceDep, token: str = Form("")) -> Response:
    """The sign-in form: a good token sets the cookie and goes to the list."""
    try:
        _reader(service, request, token.strip() or "-")
    except _NotAllowed as exc:
        return _login_form(exc.why, exc.status)
    return _signed_in(request, token.strip(), "/dashboard")


@router.post("/logout")
def logout() -> Response:
    out = RedirectResponse("/dashboard", status_code=303)
    out.delete_cookie(COOKIE, path="/")
    return out


@lru_cache(maxsize=1)
def _plotly() -> tuple[bytes, str]:
    from loop.report.html import plotly_js

    body = plotly_js().encode("utf-8")
    return body, hashlib.sha256(body).hexdigest()[:16]


@router.get("/static/plotly.min.js")
def plotly_bundle(request: Request) -> Response:
    """plotly's JavaScript (from the installed plotly), once per browser: cached, no token."""
    body, etag = _plotly()
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/javascript",
                    headers={"ETag": etag, "Cache-Control": "public, max-age=86400"})


def _nav(who: Token, campaign: str | None = None) -> str:
    here = (f' &rsaquo; {html.escape(campaign)}' if campaign else "")
    return (f'<nav><a href="/dashboard">Campaigns</a>{here} &mdash; signed in as '
            f'{html.escape(who.name)} ({who.role}) <form method="post" '
            f'action="/dashboard/logout" style="display:inline"><button>Sign out</button>'
            f'</form></nav>')


@router.get("/{name}", response_class=HTMLResponse)
def campaign_page(name: str, request: Request, service: ServiceDep) -> Response:
    """A campaign's report page, with the current round's proposals to act on."""
    from loop.report.html import render_page
    from loop.report.view import campaign_view

    try:
        who = _reader(service, request)
    except _NotAllowed as exc:
        return _login_form(exc.why, exc.status)
    if service.store.campaign(name) is None:
        return _page("loopwell: no such campaign", f"{_nav(who)}<h1>No campaign "
                     f"'{html.escape(name)}'</h1>", 404)
    try:
        campaign = service.cache.get(name)
    except Exception:  # noqa: BLE001 - the page says what is left out without it
        campaign = None
    view = campaign_view(service.store, name, campaign, cache_dir=service.state_dir)
    top = _nav(who, name) + (f'<p><span class="s s-{html.escape(view.status)}">'
                             f'{html.escape(STATES.get(view.status, view.status))}</span></p>')
    page = render_page(view, plotly_src=PLOTLY, head=_ICON + f"<style>{_BADGES}</style>",
                       top=top + _actions(view, who))
    return HTMLResponse(page,
                        headers={"Cache-Control": "no-store"})


def _actions(view, who: Token) -> str:
    """The current round's experiments still to dispatch, with buttons for an operator."""
    r = view.current_round
    if r is None:
        return ""
    todo = sorted((e for e in view.experiments if e.round == r and e.state in
                   (ExperimentState.PROPOSED, ExperimentState.APPROVED)),
                  key=lambda e: -e.acquisition if e.acquisition is not None else float("inf"))
    operator = who.role == Role.OPERATOR
    if not todo:
        return ""
    rows = []
    for e in todo:
        eid = html.escape(e.id, quote=True)
        buttons = ""
        if operator:
            approve = ('<button class="act-approve">approve</button> '
                       if e.state == ExperimentState.PROPOSED else "")
            buttons = (f'<td>{approve}<button class="act-reject">reject</button> '
                       f'<button class="act-edit">edit</button></td>')
        acq = "-" if e.acquisition is None else format(e.acquisition, ".4g")
        rows.append(f'<tr class="proposal" data-id="{eid}"><td>{html.escape(e.candidate_id)}'
                    f'</td><td class="state">{html.escape(str(e.state))}</td><td>{acq}</td>'
                    f'{buttons}</tr>')
    head = "<th>candidate</th><th>state</th><th>acquisition</th>" + (
        "<th></th>" if operator else "")
    all_button = ('<p><button id="approve-all">approve every proposed one</button></p>'
                  if operator else
                  "<p>Sign in with an operator token to approve, reject or edit.</p>")
    script = _SCRIPT % {"campaign": _js(view.name), "header": _js(DASHBOARD_HEADER)}
    return (f'<section id="act"><h2>Round {r}: {len(todo)} experiment(s) before the lab</h2>'
            f'<p>Best first; details in "Proposals of round {r}" below.</p>{all_button}'
            f'<p id="act-status" class="err"></p><table id="proposals">'
            f'<tr>{head}</tr>{"".join(rows)}</table></section>' + (script if operator else ""))


def _js(value: str) -> str:
    """A JavaScript string literal that cannot close the <script> it is in."""
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


# the buttons call the JSON API; the cookie goes with them (same origin), the header marks
# the call as the dashboard's own
_SCRIPT = """<script>
(function(){
const campaign = %(campaign)s, header = %(header)s;
const base = '/campaigns/' + encodeURIComponent(campaign) + '/proposals';
async function call(path, body){
  const out = document.getElementById('act-status');
  out.textContent = 'working...';
  const r = await fetch(base + path, {method: 'POST', credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', [header]: '1'},
    body: body === undefined ? null : JSON.stringify(body)});
  if (!r.ok) {
    let why = r.statusText;
    try { why = (await r.json()).detail; } catch (e) {}
    if (typeof why !== 'string') why = JSON.stringify(why);
    out.textContent = 'refused (' + r.status + '): ' + why;
    return;
  }
  out.textContent = '';
  location.reload();
}
document.querySelectorAll('tr.proposal').forEach(function(row){
  const id = encodeURIComponent(row.dataset.id);
  const on = function(cls, f){
    const b = row.querySelector(cls);
    if (b) b.addEventListener('click', f);
  };
  on('.act-approve', function(){ call('/' + id + '/approve'); });
  on('.act-reject', function(){
    const reason = prompt('Why reject ' + row.dataset.id + '?');
    if (reason && reason.trim()) call('/' + id + '/reject', {reason: reason.trim()});
  });
  on('.act-edit', function(){
    const cand = prompt('Measure which candidate instead of ' + row.dataset.id + '?');
    if (!cand || !cand.trim()) return;
    const reason = prompt('Why (optional)?') || null;
    call('/' + id + '/edit', {candidate_id: cand.trim(), reason: reason});
  });
});
const all = document.getElementById('approve-all');
if (all) all.addEventListener('click', function(){ call('/approve'); });
})();
</script>"""
