"""The dashboard (issue 14) in headless Chromium (Debian's chromium and
chromium-driver, through python3-selenium) against a real `smtpsd serve`:
log in, the overview counting a message sent with smtplib, suspending an
account and then SMTP AUTH refused, a suppression added and removed, a
deferred message retried, identities, live events, a phone-sized window.
Screenshots of each view go to build/screenshots/."""
import smtplib
from pathlib import Path

import pytest

from api_client import Api, make_token
from conftest import PASSWORD, ROOT, wait_for

pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

SHOTS = ROOT / "build" / "screenshots"
FROM = "alice@example.com"
CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"


def send(srv, to=("bob@example.org",), user="alice", password=PASSWORD):
    with srv.smtp_ssl() as s:
        s.login(user, password)
        s.sendmail(FROM, list(to), f"From: {FROM}\r\nTo: {', '.join(to)}\r\nSubject: dashboard\r\n\r\nHello.\r\n")


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One browser for the module: starting Chromium took 2.2 to 2.4 s per test.
    Each test's server listens on a port of its own, so it is an origin of its
    own and shares no storage (the token is in sessionStorage) with the others."""
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.fail("chromium and chromium-driver are needed (make test-deps installs them)")
    where = tmp_path_factory.mktemp("chromium")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-extensions", "--disable-default-apps", "--password-store=basic",
                 f"--user-data-dir={where / 'profile'}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER, log_path=str(where / "chromedriver.log")), options=opts)
    yield driver
    driver.quit()


@pytest.fixture
def browser(chromium):
    chromium.get("about:blank")
    chromium.set_window_size(1280, 900)
    chromium.get_log("browser")  # what an earlier test's page logged is not this test's
    yield chromium
    chromium.get("about:blank")


class Dashboard:
    def __init__(self, driver, srv):
        self.d = driver
        self.srv = srv
        self.url = f"http://127.0.0.1:{srv.admin_port}/"
        self.token = make_token(srv, "browser")

    def wait(self, predicate, timeout=20, what="the page"):
        # The views re-render what they poll: an element found a moment ago may be gone. Try again.
        return WebDriverWait(self.d, timeout, poll_frequency=0.1,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
            lambda d: predicate(), message=what)

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def all(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css):
        return self.wait(lambda: next((e for e in self.all(css) if e.is_displayed()), None), what=css)

    def login(self):
        self.d.get(self.url)
        self.visible("#token").send_keys(self.token)
        self.find("#login-form button[type=submit]").click()
        self.visible('[data-stat="accepted"]')
        return self

    def go(self, view):
        self.find(f'#nav a[data-view="{view}"]').click() if self.find("#nav").is_displayed() else \
            self.d.execute_script("location.hash = arguments[0]", view)
        self.wait(lambda: self.find("#view").get_attribute("data-view") == view, what=view)

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.d.save_screenshot(str(SHOTS / f"{name}.png"))

    def errors(self):
        """What the page logged as errors (a script error, a refused style or script)."""
        return [e for e in self.d.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def dash(browser, server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n')
    dashboard = Dashboard(browser, srv)
    dashboard.sink = sink
    yield dashboard
    assert dashboard.errors() == []


def stat(dash, key):
    text = dash.find(f'[data-stat="{key}"] .value').text.replace(",", "").replace("\u202f", "")
    return None if text in ("", "–") else int(text)


def test_log_in_and_the_overview_counts_a_message_sent_with_smtplib(dash):
    d = dash.d
    d.get(dash.url)
    dash.visible("#token").send_keys("smtpsd_not_a_token")
    dash.shot("login")
    dash.find("#login-form button[type=submit]").click()
    dash.wait(lambda: dash.find("#login-error").text == "That token is not valid.", what="the refusal")
    dash.d.get_log("browser")  # the 401 above is expected; start the error check from here
    dash.find("#token").clear()
    dash.login()
    assert dash.token not in d.current_url
    assert d.execute_script("return sessionStorage.getItem('smtpsd.token')") == dash.token
    assert d.execute_script("return localStorage.length") == 0

    before = dash.wait(lambda: stat(dash, "accepted") is not None and stat(dash, "accepted") + 1, what="the count") - 1
    send(dash.srv)
    dash.wait(lambda: stat(dash, "accepted") == before + 1, timeout=30, what="accepted to go up")
    dash.wait(lambda: stat(dash, "delivered") == 1, timeout=30, what="delivered to go up")
    charts = d.execute_script(
        "return [...document.querySelectorAll('canvas')].map(c => Chart.getChart(c).data.datasets.length)")
    assert charts == [5, 5]
    day_total = d.execute_script(
        "return Chart.getChart(document.querySelector('canvas')).data.datasets[0].data.reduce((a, b) => a + b, 0)")
    assert day_total == before + 1
    dash.shot("overview")

    d.refresh()  # the token stays for the tab
    dash.visible('[data-stat="accepted"]')
    dash.find("#logout").click()
    dash.visible("#token")
    assert d.execute_script("return sessionStorage.getItem('smtpsd.token')") is None


def test_suspend_an_account_then_smtp_auth_is_refused(dash):
    dash.login()
    dash.go("accounts")
    row = '[data-account="acme"]'
    dash.visible(f'{row} button[data-action="suspend"]').click()
    dash.wait(lambda: dash.find(f"{row} .state").text == "suspended", what="the suspension")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        send(dash.srv)
    assert dash.srv.cli_json("account", "show", "acme")["suspended"] is True
    dash.shot("accounts")

    dash.find(f'{row} button[data-action="resume"]').click()
    dash.wait(lambda: dash.find(f"{row} .state").text == "active", what="the resumption")
    dash.find(f'{row} button[data-action="credentials"]').click()
    dash.visible('button[data-action="new-credentials"]').click()
    password = dash.visible("code.password").text
    username = dash.find(".secret code").text
    assert len(password) == 24
    send(dash.srv, user=username, password=password)  # the new credentials work at once
    dash.shot("accounts-credentials")


def test_a_reputation_pause_shows_and_is_lifted(browser, server_factory, sink_factory):
    sink = sink_factory()
    srv = server_factory(delivery=f'enabled = true\nroutes = {{ "*" = "127.0.0.1:{sink.port}" }}\n',
                         extra="[reputation]\nmin_recipients = 1\n")
    # The sink refuses reject-… with 550 5.1.1: a hard bounce in the transaction, a 100 % bounce rate.
    send(srv, to=("reject-a@example.org",))
    wait_for(lambda: srv.cli_json("account", "show", "acme")["paused"], timeout=30, what="the pause")
    dash = Dashboard(browser, srv)
    dash.login()
    dash.go("accounts")
    row = '[data-account="acme"]'
    dash.wait(lambda: dash.find(f"{row} .state").text.startswith("paused"), what="the paused badge")
    assert "bounce rate 100.0 % over the last 1 recipients" in dash.find(f"{row} .state").text
    dash.shot("accounts-paused")
    dash.find(f'{row} button[data-action="lift-pause"]').click()
    dash.wait(lambda: dash.find(f"{row} .state").text == "active", what="the pause lifted")
    assert srv.cli_json("account", "show", "acme")["paused"] is None
    send(srv)  # sending again
    assert dash.errors() == []


def test_add_and_remove_a_suppression(dash):
    dash.login()
    dash.go("suppression")
    dash.visible("#suppress-address").send_keys("Carol@Example.org")
    dash.find("#view form button[type=submit]").click()
    row = '[data-address="carol@example.org"]'
    dash.visible(row)
    assert [s["address"] for s in dash.srv.cli_json("suppression", "list")] == ["carol@example.org"]
    dash.shot("suppression")
    remove = dash.find(f'{row} button[data-action="remove"]')
    remove.click()
    assert remove.text == "Confirm"  # one click is not enough
    remove.click()
    dash.wait(lambda: not dash.all(row), what="the row to go")
    assert dash.srv.cli_json("suppression", "list") == []


def test_retry_a_deferred_message(dash):
    send(dash.srv, to=("temp-dave@example.org",))
    api = Api(dash.srv, dash.token)
    deferred = wait_for(lambda: api.get("/api/v1/queue?status=deferred")["items"], 30, what="a deferral")
    qid = deferred[0]["id"]
    assert not dash.sink.messages
    dash.login()
    dash.go("queue")
    Select(dash.visible('select[name="status"]')).select_by_value("deferred")
    dash.find("#view form button[type=submit]").click()
    dash.wait(lambda: [r.get_attribute("data-id") for r in dash.all("tr[data-id]")] == [qid], what="the deferred row")
    assert "deferred" in dash.find(f'tr[data-id="{qid}"]').text
    dash.find(f'tr[data-id="{qid}"]').click()
    dash.visible(f'#message[data-id="{qid}"]')
    assert "451 4.3.0" in dash.find("#message").text
    dash.shot("queue")
    dash.sink.hold_temp = False
    dash.find('#message button[data-action="retry"]').click()
    wait_for(lambda: dash.sink.messages, 30, what="the retried delivery")
    assert dash.sink.messages[0]["rcpts"] == ["temp-dave@example.org"]


def test_identities_events_and_a_phone_sized_window(dash):
    dash.login()
    dash.go("identities")
    dash.visible('tr[data-identity="example.com"] button[data-action="records"]').click()
    records = dash.visible("#records")
    assert "_dmarc.example.com" in records.text and "._domainkey.example.com" in records.text
    assert len(dash.all("#records button")) >= 6  # a copy button for each name and value
    dash.shot("identities")

    dash.go("events")
    send(dash.srv)
    dash.wait(lambda: any("send" in r.text for r in dash.all("#view tbody tr")), timeout=30, what="a live send event")
    dash.wait(lambda: any("delivery" in r.text for r in dash.all("#view tbody tr")), timeout=30,
              what="a live delivery event")
    dash.shot("events")

    dash.d.set_window_size(390, 844)
    dash.go("overview")
    dash.visible('[data-stat="accepted"]')
    assert dash.find("#menu").is_displayed() and not dash.find("#nav").is_displayed()
    assert dash.d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    dash.shot("phone-overview")
    dash.find("#menu").click()
    dash.visible('#nav a[data-view="queue"]').click()
    dash.wait(lambda: dash.find("#view").get_attribute("data-view") == "queue", what="the queue view")
    assert dash.d.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    dash.shot("phone-queue")
