"""Playwright helpers the browser tests share: a page that may reach only given places, and the logins.

`guarded(browser, allowed)` gives a context and page whose requests outside the `allowed` URL prefixes
are refused and recorded, so a test proves a UI works offline, on this machine alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@dataclass
class Guarded:
    context: object
    page: object
    elsewhere: list[str] = field(default_factory=list)

    def screenshot(self, name: str, full_page: bool = False) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> list[str]:
        """Close the context; the refused requests."""
        self.context.close()
        return self.elsewhere


def guarded(browser, allowed: tuple[str, ...], offline: bool = False) -> Guarded:
    """A new context and page that may request only URLs starting with one of `allowed`."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, offline=offline)
    found = Guarded(context, None)

    def only_allowed(route) -> None:
        if route.request.url.startswith(allowed):
            route.continue_()
        else:
            found.elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_allowed)
    found.page = context.new_page()
    return found


# (base URL, username, password) -> the cookies of a form login. FAB limits form logins to 5 per 40 s per
# address (a production default, kept): tests sign in with the form once per login and server, then reuse it.
_SIGNED_IN: dict[tuple[str, str, str], list] = {}


def airflow_login(page, base_url: str, username: str, password: str) -> None:
    """Signed in on the Airflow UI as `username`: through the FAB login form the first time, then with the
    session cookies that form login gave (the same user session, without another POST to the form)."""
    key = (base_url, username, password)
    if key in _SIGNED_IN:
        page.context.add_cookies(_SIGNED_IN[key])
        page.goto(f"{base_url}/")
        if "/auth/login" not in page.url:
            return
    submit_airflow_login(page, base_url, username, password)
    page.wait_for_url(re.compile(r"^(?!.*/auth/login)"))
    _SIGNED_IN[key] = page.context.cookies(base_url)


def submit_airflow_login(page, base_url: str, username: str, password: str) -> None:
    """Fill and submit the FAB login form the Airflow UI sends a signed-out user to."""
    page.goto(f"{base_url}/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name=re.compile("sign in", re.I)).click()


def nav_menu(page, name: str) -> list[str]:
    """The entries of one menu of the Airflow UI's navigation bar (opened, read, closed again)."""
    from playwright.sync_api import expect

    page.get_by_role("button", name=name, exact=True).click()
    items = page.get_by_role("menuitem")
    items.first.wait_for()
    found = items.all_inner_texts()
    page.keyboard.press("Escape")
    expect(items).to_have_count(0)
    return found


def nav_menus(page) -> list[str]:
    """The menus of the Airflow UI's navigation bar this login sees, read once the bar has rendered (the UI
    draws it after the page's load event; every role here sees Browse)."""
    page.get_by_role("button", name="Browse", exact=True).wait_for()
    bar = page.get_by_role("navigation")
    if not bar.count():
        bar = page
    return [b.inner_text() for b in bar.get_by_role("button").all() if b.inner_text()]


def pgadmin_login(page, base_url: str, email: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[name=internal_button]")


def pgadmin_expand(page, depth: int, name: str) -> None:
    """Open a node of pgAdmin's object explorer: click its toggle, unless pgAdmin opens it by itself. It
    does so for the sole child of a node it opened (preference "Auto-expand sole children"), and a click
    then would close it again. Only one node per level is open, so the nodes at `depth` are siblings."""
    from playwright.sync_api import expect

    label = page.locator(".file-name", has_text=re.compile(f"^{re.escape(name)}$"))
    entry = page.locator(f".file-entry.depth-{depth}").filter(has=label)
    entry.wait_for(timeout=60_000)
    toggle = entry.locator(".directory-toggle")
    if depth == 1 or page.locator(f".file-entry.depth-{depth}").count() > 1:
        toggle.click()
    expect(toggle).to_have_class(re.compile(r"\bopen\b"), timeout=60_000)
