"""The admin console in a real Chromium (Debian's, driven by Selenium), against a live server.

Screenshots of every screen are written to target/console-screenshots/ (not committed).
"""

import os
import pathlib
import shutil

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ADMIN_PASSWORD, ROOT

SHOTS = ROOT / "target" / "console-screenshots"
ALICE_PASSWORD = "alice-password-1"


def chromium_paths():
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return browser, driver


@pytest.fixture(scope="module")
def browser():
    browser_path, driver_path = chromium_paths()
    if not (os.path.exists(browser_path) and os.path.exists(driver_path)):
        pytest.fail("Chromium and chromedriver are missing: scripts/test installs Debian's chromium and chromium-driver")
    options = Options()
    options.binary_location = browser_path
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.implicitly_wait(0)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


class Console:
    def __init__(self, driver, base):
        self.driver = driver
        self.base = base

    def go(self, path):
        self.driver.get(f"{self.base}{path}")

    def wait(self, condition, seconds=10):
        return WebDriverWait(self.driver, seconds).until(condition)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, css, text):
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def choose(self, css, *labels):
        select = Select(self.find(css))
        for label in labels:
            select.select_by_visible_text(label)

    def submit(self, form_css):
        """Submits a form and waits for the page it leads to."""
        self.click(f"{form_css} button[type=submit]")

    def click(self, css):
        """Clicks what leads to another page, and waits until that page has loaded."""
        old = self.find("html")
        self.find(css).click()

        def left(_):
            try:
                old.is_enabled()
                return False
            except WebDriverException:  # stale, or no longer in any document
                return True

        self.wait(left)
        self.wait(lambda driver: driver.execute_script("return document.readyState") == "complete")

    def heading(self):
        return self.find("h1").text

    def shot(self, name):
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def sign_in(self, username, password):
        self.go("/console/sign-in")
        self.fill("#username", username)
        self.fill("#password", password)
        self.submit("form")
        self.wait(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "nav[aria-label=Console]")))

    def sign_out(self):
        self.click("form[action='/console/sign-out'] button")
        assert "/console/sign-in" in self.driver.current_url

    def what_if(self, subject, action, resource_type, resource_id):
        self.go("/console/what-if")
        self.fill("#subject", subject)
        self.fill("#action", action)
        self.fill("#resource-type", resource_type)
        self.fill("#resource-id", resource_id)
        self.submit("form.card")
        return self.wait(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[data-decision]")))


def test_an_administrator_builds_access_and_a_member_only_reads(keycard, browser):
    console = Console(browser, keycard.base)

    # Every page answers with a strict Content-Security-Policy, and the form works with password managers.
    page = requests.get(f"{keycard.base}/console/sign-in", timeout=10)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    console.go("/console/sign-in")
    assert console.find("#username").get_attribute("autocomplete") == "username"
    assert console.find("#password").get_attribute("autocomplete") == "current-password"
    console.shot("01-sign-in")

    # A wrong password keeps the person on the form with a message.
    console.fill("#username", "admin")
    console.fill("#password", "wrong-password")
    console.submit("form")
    assert "Not signed in" in console.find("[role=alert]").text

    console.sign_in("admin", ADMIN_PASSWORD)
    nav = [link.text for link in console.finds("nav[aria-label=Console] a")]
    for name in ("Accounts", "Groups", "Roles", "Policies", "Changes", "What-if", "Resources", "Catalogue", "Organizations"):
        assert name in nav, nav

    # A role, a group holding it, an account in the group, a policy granting the role `edit`.
    console.go("/console/roles")
    console.fill("#role-name", "editors")
    console.submit("form.card[action='/console/roles']")
    assert console.heading() == "Role editors"
    console.shot("05-role")

    console.go("/console/groups")
    console.fill("#group-name", "writers")
    console.choose("#group-roles", "editors")
    console.submit("form.card[action='/console/groups']")
    assert console.heading() == "Group writers"
    console.shot("05b-group")

    console.go("/console/accounts")
    console.fill("#new-username", "alice")
    console.fill("#new-password", ALICE_PASSWORD)
    console.choose("#new-groups", "writers")
    console.submit("form.card[action='/console/accounts']")
    assert console.heading() == "Account alice"
    alice_url = browser.current_url
    assert "group writers" in console.find("main").text

    console.go("/console/policies")
    console.fill("#policy-name", "documents")
    console.fill("#policy-action", "edit")
    console.choose("#policy-roles", "editors")
    # The condition is checked as it is typed.
    console.fill("#policy-condition", "resource.owner ==")
    console.wait(lambda _: "does not parse" in console.find("#condition-status").text)
    console.shot("08-policy-condition-check")
    console.find("#policy-condition").clear()
    console.fill("#policy-type", "document")
    console.submit("form.card[action='/console/policies']")
    assert console.heading() == "Policy documents"
    assert "editors" in console.find("table").text
    console.shot("09-policy")

    # What-if allows, through the group, by name.
    decision = console.what_if("alice", "edit", "document", "readme")
    assert decision.get_attribute("data-decision") == "allowed"
    assert console.find("[data-via]").text == "writers"
    assert "documents" in console.find("ol.reasons").text
    console.shot("10-what-if-allowed")

    # An API key: the secret is shown once.
    browser.get(alice_url)
    console.fill("#key-name", "laptop")
    console.submit("form[action$='/keys']")
    secret = console.find("[data-secret]").text
    assert secret.startswith("kck_")
    console.shot("11-account-key-created")
    browser.get(alice_url)
    assert secret not in browser.page_source

    # Removing the membership takes the grant away.
    console.click("form[action$='/membership'] input[value=remove] ~ button")
    assert "In no group." in console.find("main").text
    decision = console.what_if("alice", "edit", "document", "readme")
    assert decision.get_attribute("data-decision") == "denied"
    console.shot("12-what-if-denied")

    # A policy is deleted from its page.
    console.go("/console/policies")
    console.click("main table a")
    console.click("form[action$='/delete'] button")
    assert console.heading() == "Policies"
    assert "documents" not in console.find("main").text

    # Every other screen, for the record.
    for name, path in [
        ("02-accounts", "/console/accounts"),
        ("03-groups", "/console/groups"),
        ("04-roles", "/console/roles"),
        ("06-policies", "/console/policies"),
        ("07-resources", "/console/resources"),
        ("13-catalogue", "/console/catalogue"),
        ("14-changes", "/console/changes"),
        ("15-organizations", "/console/organizations"),
    ]:
        console.go(path)
        assert console.finds("main h1"), path
        console.shot(name)
        if path == "/console/changes":
            assert "alice" in console.find("main").text  # who was made, by name
    # A partner switches the organization the console acts in.
    keycard.create("/v1/organizations", {"name": "acme"})
    console.go("/console/accounts")
    console.choose("#switch-org", "acme")
    console.click("form[action='/console/organization'] button")
    assert console.find(".brand .org").text == "acme"
    assert "alice" not in console.find("main table").text
    console.shot("15b-partner-in-acme")
    console.choose("#switch-org", "default")
    console.click("form[action='/console/organization'] button")
    assert console.find(".brand .org").text == "default"
    browser.set_window_size(390, 844)
    console.go("/console/accounts")
    console.shot("16-accounts-phone")
    browser.set_window_size(1280, 900)
    console.sign_out()
    assert "signed out" in console.find("[role=alert]").text

    # A member sees its own account, read-only.
    console.sign_in("alice", ALICE_PASSWORD)
    assert "/console/me" in browser.current_url
    nav = [link.text for link in console.finds("nav[aria-label=Console] a")]
    assert "Accounts" not in nav and "Policies" not in nav, nav
    posts = [form.get_attribute("action") for form in console.finds("main form[method=post]")]
    assert posts == [], posts
    assert "Effective roles" in console.find("main").text
    console.shot("17-member-own-account")
    csrf = console.find("input[name=csrf]").get_attribute("value")
    cookies = {cookie["name"]: cookie["value"] for cookie in browser.get_cookies()}

    # A forged write, with the member's own session and token, is refused by the server.
    forged = requests.post(
        f"{keycard.base}/console/roles",
        data={"csrf": csrf, "name": "sneaky"},
        cookies=cookies,
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403, forged.text
    # And without the token, nothing runs at all.
    forged = requests.post(f"{keycard.base}/console/roles", data={"name": "sneaky"}, cookies=cookies, allow_redirects=False, timeout=10)
    assert forged.status_code == 403
    console.go("/console/accounts")
    assert console.heading() == "Refused"

    # A session ended on the server sends the browser back to sign in, saying why.
    alice = keycard.native("GET", "/v1/accounts?limit=500").json()["items"]
    alice_id = next(account["id"] for account in alice if account["username"] == "alice")
    assert keycard.native("DELETE", f"/v1/accounts/{alice_id}/sessions").status_code == 200
    console.go("/console/me")
    assert "/console/sign-in" in browser.current_url
    assert "expired" in console.find("[role=alert]").text
    console.shot("18-session-expired")
