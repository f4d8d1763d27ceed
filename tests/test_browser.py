"""The portal in a real browser: Debian's headless Chromium, driven by Selenium through Debian's
chromedriver, against `hstvo serve` on the bundled samples (one observation proprietary to the
group insiders, whose member logs in). One browser session for the module.

Every page visited is photographed (build/screenshots/, a build artefact; HSTVO_SCREENSHOTS
moves it) at 1280x800 and at a phone's width, and checked by axe-core (vendored in
tests/browser/): no serious or critical accessibility violation passes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from .conftest import PROJECT_ROOT, add_account, run_hstvo, served_samples

pytest.importorskip("selenium", reason="selenium is a test dependency (pip install -e '.[test]')")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Debian's chromium and chromium-driver are missing: `make test` installs them")

SCREENSHOTS = Path(os.environ.get("HSTVO_SCREENSHOTS", PROJECT_ROOT / "build" / "screenshots"))
AXE = Path(__file__).parent / "browser" / "axe.min.js"
PASSWORDS = {"member": "member-password-7", "operator": "operator-password-7"}
DESKTOP, PHONE = (1280, 800), (390, 844)
SERIOUS = ("serious", "critical")


@pytest.fixture(scope="module")
def site(pg_server, template_db, tmp_path_factory):
    """The samples served, with a member of insiders (j8bt05njq is theirs) and an operator,
    both with passwords, and recalibration jobs in the queue."""
    directory = tmp_path_factory.mktemp("browser")
    with served_samples(pg_server, template_db, directory, "hstvo_browser") as (base, db_url):
        for user, password in PASSWORDS.items():
            run_hstvo("users", "add", user, "--password-stdin", db_url=db_url, check=True,
                      input=password + "\n")
        add_account(db_url, "operator", "browser-operator-token", writer=True)
        add_account(db_url, "member", "browser-member-token")
        add_account(db_url, "colleague", "browser-colleague-token")
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute("SELECT auth.create_group('insiders', 'member')")
            conn.execute("SELECT auth.add_member('insiders', 'member')")
            conn.execute("UPDATE caom2.observation SET metarelease = '2099-01-01', "
                         "metareadgroups = auth.group_uri('insiders') WHERE observationid = 'j8bt05njq'")
            for dataset in ("j94f05bgq", "ib4606c5q", "j8bt05njq"):
                conn.execute("SELECT queue.enqueue('calibrate', %s, '{\"why\": \"browser test\"}',"
                             " 'standard', 2, 4096)", (dataset,))
        yield {"base": base, "db": db_url, "directory": directory}


@pytest.fixture(scope="module")
def browser(site):
    """One headless Chromium for the module (flags as the machine's probe found they must be:
    no sandbox as root, no background networking on a closed network)."""
    downloads = site["directory"] / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-sync",
                 "--disable-component-update", "--disable-dev-shm-usage",
                 f"--user-data-dir={site['directory'] / 'chromium-profile'}",
                 f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False,
                                              "safebrowsing.enabled": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # headless Chromium saves downloads only where it is told to
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.implicitly_wait(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield Browser(driver, site["base"], downloads)
    finally:
        driver.quit()


class Browser:
    """The driver, with what every test does: open a page, wait, photograph, check."""

    def __init__(self, driver, base: str, downloads: Path) -> None:
        self.driver, self.base, self.downloads = driver, base, downloads
        self.axe_source = AXE.read_text()

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.wait_for("main")

    def wait_for(self, selector: str, seconds: float = 15):
        return WebDriverWait(self.driver, seconds).until(
            ready.presence_of_element_located((By.CSS_SELECTOR, selector)))

    def find(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def texts(self, selector: str) -> list[str]:
        return [e.text for e in self.all(selector)]

    def click(self, selector: str) -> None:
        element = self.find(selector)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def wait_gone(self, old) -> None:
        """Wait until the page `old` (its html element) was replaced by another."""
        def gone(_driver) -> bool:
            try:
                old.is_enabled()
                return False
            except WebDriverException:  # stale, or mid-navigation: the old page is going
                return True
        WebDriverWait(self.driver, 20).until(gone)

    def click_and_load(self, selector: str) -> None:
        """Click what sends the browser to a new page, and wait for that page."""
        old = self.find("html")
        self.click(selector)
        self.wait_gone(old)
        self.wait_for("main")

    def type_and_load(self, selector: str, text: str) -> None:
        """Type into a field and press Enter (its form is sent), and wait for the new page."""
        old = self.find("html")
        self.find(selector).send_keys(text + Keys.ENTER)
        self.wait_gone(old)
        self.wait_for("main")

    def check(self, name: str) -> None:
        """Photograph the page (desktop and phone) and fail on a serious or critical axe
        violation; also that the page does not scroll sideways on a phone."""
        for label, (width, height) in (("", DESKTOP), ("-phone", PHONE)):
            self.driver.set_window_size(width, height)
            full = self.driver.execute_script("return document.documentElement.scrollHeight")
            self.driver.set_window_size(width, min(max(full, height), 4000))
            WebDriverWait(self.driver, 20).until(lambda d: d.execute_script(  # in view: loaded
                "return [...document.images].every(i => i.complete && i.naturalWidth > 0)"))
            self.driver.save_screenshot(str(SCREENSHOTS / f"{name}{label}.png"))
            if label:
                sideways = self.driver.execute_script(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
                assert sideways <= 2, f"{name} scrolls sideways on a phone by {sideways} px"
        self.driver.set_window_size(*DESKTOP)
        self.driver.execute_script(self.axe_source)
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
            ".catch(e => done([{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}]));")
        serious = [f"{v['id']} ({v['impact']}): {v['description']} at "
                   + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                               for n in v["nodes"][:3])
                   for v in result if v.get("impact") in SERIOUS]
        assert not serious, f"{name}: " + "\n".join(serious)

    def login(self, user: str) -> None:
        self.open("/logout")
        self.open("/login?next=/search")
        self.find("#username").send_keys(user)
        self.type_and_load("#password", PASSWORDS[user])
        assert "/search" in self.driver.current_url
        assert self.find("#logged-in").text == user

    def logout(self) -> None:
        self.open("/logout")


def obs_ids(browser: Browser) -> list[str]:
    return browser.texts('#results tbody td[data-column="obs_id"]')


def facet_counts(browser: Browser, name: str) -> dict[str, int]:
    return {e.get_attribute("data-value"): int(e.text)
            for e in browser.all(f'span[data-facet="{name}"]')}


def summary_total(browser: Browser) -> int:
    return int(browser.find("#summary").text.split()[0].replace(",", "").rstrip("+"))


# ---------------------------------------------------------------------------------------------


def test_the_home_page_leads_to_the_search(browser):
    browser.open("/")
    browser.check("home")
    browser.type_and_load("#quick-target", "NGC104")  # the keyboard alone reaches a search
    assert all(name.startswith("NGC104") for name in browser.texts('#results td[data-column="target_name"]'))


def test_search_by_instrument_reads_the_counts_then_sorts_filters_and_pages(browser):
    browser.open("/search?size=5")
    browser.check("search")
    everything = summary_total(browser)
    instruments = facet_counts(browser, "instrument")
    assert sum(instruments.values()) == everything and "ACS/WFC" in instruments
    browser.click('input[name="instrument"][value="ACS/WFC"]')
    browser.click_and_load('#search-form button[type="submit"]')
    assert summary_total(browser) == instruments["ACS/WFC"]
    assert set(browser.texts('#results td[data-column="instrument_name"]')) == {"ACS/WFC"}
    # the counts follow the constraint: every other facet sums to the same rows
    assert sum(facet_counts(browser, "calib_level").values()) == instruments["ACS/WFC"]
    # sort by integration time, longest first (a second click on the header)
    browser.click_and_load('th a[href*="sort=t_exptime"]')
    assert browser.all('th[aria-sort="ascending"]')
    browser.click_and_load('th[aria-sort="ascending"] a')
    assert browser.all('th[aria-sort="descending"]')
    times = [float(t) for t in browser.texts('#results td[data-column="t_exptime"]') if t]
    assert times == sorted(times, reverse=True) and times
    # the filter under the Target column
    browser.type_and_load('input[name="f_target_name"]', "NGC")
    targets = browser.texts('#results td[data-column="target_name"]')
    assert targets and all("NGC" in t.upper() for t in targets)
    filtered = summary_total(browser)
    # page: five a page, the next page holds the next rows
    browser.open("/search?size=5&sort=obs_id")
    first = obs_ids(browser)
    browser.click_and_load('a[rel="next"]')
    second = obs_ids(browser)
    assert len(first) == 5 and second and not set(first) & set(second)
    assert second[0] > first[-1]
    assert filtered <= instruments["ACS/WFC"]


def test_a_cone_shows_footprints_previews_and_cutouts(browser):
    browser.open("/search?ra=00:24:05.4&dec=-72:04:52&radius=0.2&cutout=on")
    found = obs_ids(browser)
    assert found and all(i.startswith(("j8", "j9")) for i in found)
    assert len(browser.all("svg.sky polygon.footprint")) == len(found)
    assert browser.all("svg.sky circle.cone")
    assert len(browser.all("a.cutout-link")) == len(found)
    # the thumbnails are real PNGs made from the FITS data
    WebDriverWait(browser.driver, 20).until(lambda d: d.execute_script(
        "return [...document.querySelectorAll('#results img')].every(i => i.complete && i.naturalWidth > 0)"))
    browser.check("search-cone")
    # open a preview: a 512-pixel quick look
    preview = browser.find("a.preview-link").get_attribute("href")
    browser.driver.get(preview)
    width = WebDriverWait(browser.driver, 20).until(lambda d: d.execute_script(
        "const i = document.images[0]; return i && i.complete && i.naturalWidth"))
    assert width == 512
    browser.driver.save_screenshot(str(SCREENSHOTS / "preview.png"))


def test_the_selected_rows_download_as_a_script_whose_lines_run(browser, site, tmp_path):
    browser.open("/search?target=NGC104&sort=obs_id")
    boxes = browser.all("input.row-select")
    assert boxes
    for box in boxes:
        box.click()
    for old in browser.downloads.glob("*"):
        old.unlink()
    browser.click("#download-button")  # a download: the page stays
    deadline = time.monotonic() + 20
    while not list(browser.downloads.glob("*.sh")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert list(browser.downloads.glob("*.sh")), list(browser.downloads.iterdir())
    script = next(browser.downloads.glob("*.sh")).read_text()
    lines = [line for line in script.splitlines() if line.startswith("curl ")]
    assert len(lines) == len(boxes)
    # run one of its lines as the script would (the shell expands ${AUTH:+...} to nothing)
    ran = subprocess.run(["sh", "-c", "AUTH=; set -e; " + lines[0]], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    fetched = next(tmp_path.glob("*.fits"))
    assert fetched.read_bytes().startswith(b"SIMPLE  =")  # a FITS file, unpacked if kept gzipped
    served = httpx.get(f"{site['base']}/files/HST/{fetched.name}", timeout=30)  # httpx unpacks
    assert fetched.read_bytes() == served.content


def test_the_adql_tab_runs_a_query_as_an_async_job(browser):
    browser.open("/search?instrument=ACS/WFC")
    query = browser.find("#adql-query")
    assert "instrument_name IN ('ACS/WFC')" in query.get_attribute("value")
    query.clear()
    query.send_keys("SELECT TOP 3 obs_id FROM ivoa.ObsCore ORDER BY obs_id")
    browser.click('#adql-form button[type="submit"]')
    WebDriverWait(browser.driver, 30).until(
        lambda d: "COMPLETED" in d.find_element(By.ID, "adql-phase").text)
    result = browser.find("#adql-phase a").get_attribute("href")
    votable = httpx.get(result, timeout=30).text
    assert votable.count("<TR>") == 3 or votable.count("<TR") == 3 or "<BINARY2>" in votable
    browser.check("search-adql")


def test_a_member_logged_in_sees_the_proprietary_row(browser):
    browser.logout()
    browser.open("/search?obs_id=j8bt05")
    assert "j8bt05njq" not in obs_ids(browser)
    browser.check("login")  # the page /logout left: the login form
    browser.login("member")
    browser.open("/search?obs_id=j8bt05")
    assert "j8bt05njq" in obs_ids(browser)
    assert facet_counts(browser, "collection")["HST"] == len(obs_ids(browser))
    browser.logout()


def test_an_operator_holds_and_releases_a_job(browser):
    browser.open("/processing")
    anonymous_rows = browser.texts("#jobs tbody td:nth-child(7)")
    assert "j8bt05njq" not in anonymous_rows  # a proprietary dataset's job is not listed
    assert not browser.all('#jobs button')  # and nobody anonymous acts
    browser.login("operator")
    browser.open("/processing?status=idle")
    browser.check("processing")
    row = next(r for r in browser.all("#jobs tbody tr")
               if r.find_element(By.CSS_SELECTOR, "td:nth-child(7)").text == "j94f05bgq")
    job = row.get_attribute("data-job")
    browser.open(f"/processing/{job}")
    browser.click_and_load("#action-hold")
    assert browser.find("#job-status").text == "held"
    assert "held by operator" in browser.find("#history").text
    browser.check("processing-job")
    browser.click_and_load("#action-release")
    assert browser.find("#job-status").text == "idle"
    assert "released by operator" in browser.find("#history").text
    browser.open("/processing/monitor")
    assert len(browser.all("svg.chart")) == 4
    browser.check("processing-monitor")
    browser.logout()


def test_a_member_creates_a_group_and_adds_a_member(browser, site):
    browser.login("member")
    browser.open("/groups")
    browser.find("#group-name").send_keys("browser-team")
    browser.find("#group-description").send_keys("made in a browser")
    browser.click_and_load("#create-group")
    assert "browser-team" in browser.find("#group-message").text
    browser.find("#member").send_keys("colleague")
    browser.click_and_load("#add-member")
    assert "colleague" in browser.find("#members").text
    browser.check("group")
    with psycopg.connect(site["db"]) as conn:
        members = {row[1] for row in conn.execute("SELECT * FROM auth.group_members('browser-team')")}
    assert members == {"member", "colleague"}
    browser.open("/groups")
    assert "browser-team" in browser.find("#groups-owner").text
    browser.check("groups")


def test_a_member_uploads_a_file_and_shares_it(browser, site, tmp_path):
    browser.login("member")
    browser.open("/storage/")
    assert browser.driver.current_url.endswith("/storage/home/member")
    upload = tmp_path / "notes-for-the-team.txt"
    upload.write_bytes(b"flat fields look fine\n" * 1000)
    browser.find("#upload-file").send_keys(str(upload))
    browser.click_and_load("#upload-button")
    assert "uploaded" in browser.find("#storage-message").text
    row = browser.find('tr[data-name="notes-for-the-team.txt"]')
    assert "22.0 kB" in row.text
    path = "/vospace/files/home/member/notes-for-the-team.txt"
    assert httpx.get(site["base"] + path, timeout=30).status_code in (401, 403, 404)
    # share it with the group made above
    row.find_element(By.CSS_SELECTOR, "summary").click()
    rights = row.find_element(By.CSS_SELECTOR, 'form[aria-label^="Rights"]')
    rights.find_element(By.NAME, "groupread").send_keys("browser-team")
    old = browser.find("html")
    rights.find_element(By.CSS_SELECTOR, "button").click()
    browser.wait_gone(old)
    assert "rights" in browser.find("#storage-message").text
    shared = browser.find('tr[data-name="notes-for-the-team.txt"]').text
    assert "read: browser-team" in shared
    # and the folder above it (whoever reads a file reads every folder on its path)
    browser.find(".folder-rights summary").click()
    browser.find("#folder-read").send_keys("browser-team")
    browser.click_and_load("#folder-rights-button")
    assert "read by browser-team" in browser.find("main .summary").text
    browser.check("storage")
    # the group's member reads it; someone outside the group does not
    as_colleague = httpx.get(site["base"] + path, timeout=30,
                             headers={"Authorization": "Bearer browser-colleague-token"})
    assert as_colleague.status_code == 200 and as_colleague.content == upload.read_bytes()
    outsider = httpx.get(site["base"] + path, timeout=30,
                         headers={"Authorization": "Bearer browser-operator-token"})
    assert outsider.status_code in (403, 404)
    browser.logout()


def test_the_service_pages_read_as_pages(browser):
    for path, name in (("/tap", "tap"), ("/tap/tables", "tap-tables"),
                       ("/tap/examples", "tap-examples"), ("/datalink", "datalink")):
        browser.open(path)
        browser.check(name)
    # an example's Run button fills the query form, which runs it
    browser.open("/tap/examples")
    browser.click_and_load("#by-instrument a.button")
    assert "GROUP BY instrument_name" in browser.find("#adql-query").get_attribute("value")
    browser.click("#adql-run")
    WebDriverWait(browser.driver, 30).until(
        lambda d: "COMPLETED" in d.find_element(By.ID, "adql-phase").text)
