"""The fans of bench/flash_sale.py (a locustfile: `locust -f bench/flash_locust.py --headless ...`).

Each locust user is a stream of fans: every iteration is a new visitor (cookies cleared) who opens the catalogue,
then a product page (the T-shirt of the celebrity's post most of the time), picks a variant (one of the limited
ones when it is still offered, for WANT_LIMITED of them), adds it to the basket and looks at the basket. In the
`purchase` scenario the fan then checks out as a guest (email, shipping address, preview, "Place order") and pays
on the payment page as its script does (a POST of Stripe's test PaymentMethod `pm_card_visa`, JSON answer); the
`browse` scenario stops after the basket (the part stock Oscar can do too, for the ratio).

Sold out is an outcome, not an error: a limited variant no longer offered on the product page (the fan takes
another one), a basket add refused, a checkout step sending the fan back to the basket, or "Place order" refused
under the stock lock. Every request is recorded with its time and outcome (SAMPLES, JSON lines, written when the
run stops) and every fan's ending too; bench/flash_sale.py makes the figures.

The number of fans follows FlashShape: a ramp to the peak, a hold, a decay (BENCH_FLASH_* environment).
Only 127.0.0.1: the host is refused otherwise.
"""

import json
import os
import random
import re
import time
import uuid
from urllib.parse import urlsplit

from locust import HttpUser, LoadTestShape, between, events, task

SCENARIO = os.environ.get("BENCH_FLASH_SCENARIO", "purchase")
PEAK = int(os.environ.get("BENCH_FLASH_USERS", "24"))
RAMP = float(os.environ.get("BENCH_FLASH_RAMP", "30"))
HOLD = float(os.environ.get("BENCH_FLASH_HOLD", "60"))
DECAY = float(os.environ.get("BENCH_FLASH_DECAY", "30"))
THINK = (float(os.environ.get("BENCH_FLASH_THINK_MIN", "0.5")), float(os.environ.get("BENCH_FLASH_THINK_MAX", "2")))
SAMPLES = os.environ.get("BENCH_FLASH_SAMPLES", "flash-samples.jsonl")
FEATURED = os.environ.get("BENCH_FLASH_FEATURED", "")  # the T-shirt's page
LIMITED = {int(pk) for pk in os.environ.get("BENCH_FLASH_LIMITED_IDS", "").split(",") if pk}
FEATURED_SHARE = float(os.environ.get("BENCH_FLASH_FEATURED_SHARE", "0.7"))
WANT_LIMITED = float(os.environ.get("BENCH_FLASH_WANT_LIMITED", "0.5"))
ADDRESS = {"first_name": "Ana", "last_name": "Fan", "line1": "1 Main St", "line4": "Boston", "state": "MA",
           "postcode": "02110", "country": "US"}

PRODUCT_LINK = re.compile(r'href="(/catalogue/[\w-]+_\d+/)"')
ADD_FORM = re.compile(r'action="(/basket/add/\d+/)"')
OPTION = re.compile(r'<option value="(\d+)"([^>]*)>')
SELECT = re.compile(r'<select[^>]*name="child_id".*?</select>', re.S)

_records = []


@events.request.add_listener
def _sample(request_type, name, response_time, response_length, response=None, exception=None, context=None,
            **kwargs):
    status = getattr(response, "status_code", None)
    _records.append({"t": time.time(), "kind": "request", "name": name, "ms": response_time,
                     "status": status, "error": None if exception is None else f"{type(exception).__name__}: "
                     f"{str(exception)[:160]}"})


@events.quitting.add_listener
def _write(environment, **kwargs):
    with open(SAMPLES, "w") as fh:
        for row in _records:
            fh.write(json.dumps(row) + "\n")


@events.init.add_listener
def _only_loopback(environment, **kwargs):
    host = urlsplit(environment.host or "").hostname
    if host != "127.0.0.1":
        raise SystemExit(f"flash_locust: the load goes to 127.0.0.1 only, not {host!r}")


def outcome(kind, detail=""):
    _records.append({"t": time.time(), "kind": "outcome", "name": kind, "detail": detail})


class Ended(Exception):
    """The fan's visit ended (an outcome recorded)."""


class Fan(HttpUser):
    wait_time = between(*THINK)

    def step(self, method, path, name, *, expect, data=None, headers=None, check=None):
        """One request, not following redirects; a status outside `expect` is a failure (recorded as such)
        and ends the visit. `check(response)` may return an outcome name (sold out) that ends it too."""
        kwargs = {"allow_redirects": False, "name": name, "catch_response": True, "timeout": 60}
        if data is not None:
            token = self.client.cookies.get("csrftoken", "")
            data = {**data, "csrfmiddlewaretoken": token}
            headers = {"X-CSRFToken": token, "Referer": self.host + path, **(headers or {})}
        with self.client.request(method, path, data=data, headers=headers, **kwargs) as resp:
            verdict = check(resp) if check else None
            if resp.status_code not in expect and not (verdict and verdict.startswith("sold out")):
                where = f" to {urlsplit(resp.headers['Location']).path}" if "Location" in resp.headers else ""
                resp.failure(f"HTTP {resp.status_code}{where}")
                outcome("error", f"{name}: HTTP {resp.status_code}{where}")
                raise Ended
            if verdict == "error":
                resp.failure(f"HTTP {resp.status_code}: not the expected page")
            else:
                resp.success()
        if verdict:
            outcome(verdict, name)
            raise Ended
        return resp

    def get(self, path, name, expect=(200,), check=None):
        return self.step("GET", path, name, expect=expect, check=check)

    def post(self, path, name, data, expect=(302,), headers=None, check=None):
        return self.step("POST", path, name, expect=expect, data=data, headers=headers, check=check)

    @task
    def visit(self):
        self.client.cookies.clear()  # a new fan
        try:
            self.browse_and_add()
            if SCENARIO == "purchase":
                self.check_out_and_pay()
            else:
                outcome("basket filled")
        except Ended:
            pass

    def browse_and_add(self):
        listing = self.get("/catalogue/", "01 catalogue list")
        # stock Oscar's list is empty (Haystack's simple backend): its fans go to the featured product
        links = sorted(set(PRODUCT_LINK.findall(listing.text))) or [FEATURED]
        page = FEATURED if FEATURED and random.random() < FEATURED_SHARE else random.choice(links)
        product = self.get(page, "02 product page")
        form = ADD_FORM.search(product.text)
        data = {"quantity": 1}
        select = SELECT.search(product.text)
        if not form:
            # stock Oscar's parent page lists its variants as links, without a form: the same add (the parent's
            # form with a child_id, which stock Oscar's basket view takes) for one of them
            slug, parent = re.fullmatch(r"/catalogue/([\w-]+)_(\d+)/", page).groups()
            variants = [int(pk) for pk in re.findall(rf'href="/catalogue/{re.escape(slug)}-[\w-]+_(\d+)/"',
                                                     product.text)]
            if not variants:
                outcome("sold out: product not offered", page)
                raise Ended
            data["child_id"] = random.choice(variants)
            self.post(f"/basket/add/{parent}/", "03 basket add", data)
            self.get("/basket/", "04 basket", check=self.basket_filled)
            return
        if select:
            options = [(int(pk), "disabled" in attrs) for pk, attrs in OPTION.findall(select.group(0))]
            offered = [pk for pk, disabled in options if not disabled]
            if not offered:
                outcome("sold out: no variant offered", page)
                raise Ended
            choice = random.choice(offered)
            if LIMITED and page == FEATURED and random.random() < WANT_LIMITED:
                limited = [pk for pk in offered if pk in LIMITED]
                if limited:
                    choice = random.choice(limited)
                else:
                    outcome("limited variants no longer offered: another one taken", page)
            data["child_id"] = choice
        self.post(form.group(1), "03 basket add", data)
        self.get("/basket/", "04 basket", check=self.basket_filled)

    @staticmethod
    def basket_filled(resp):
        return None if 'href="/checkout/"' in resp.text else "sold out: basket add refused"

    def check_out_and_pay(self):
        back_to_basket = self.back_to_basket
        self.get("/checkout/", "05 checkout: email form", check=back_to_basket)
        self.post("/checkout/", "06 checkout: email", {"username": f"fan-{uuid.uuid4().hex[:12]}@example.org",
                                                         "options": "anonymous"}, check=back_to_basket)
        self.get("/checkout/shipping-address/", "07 checkout: address form", check=back_to_basket)
        self.post("/checkout/shipping-address/", "08 checkout: address", ADDRESS, check=back_to_basket)
        # one shipping method and cards only: both steps redirect on to the preview
        self.get("/checkout/shipping-method/", "09 checkout: shipping method", expect=(302,), check=back_to_basket)
        self.get("/checkout/payment-method/", "10 checkout: payment method", expect=(302,), check=back_to_basket)
        self.get("/checkout/preview/", "11 checkout: preview", check=back_to_basket)
        placed = self.post("/checkout/preview/", "12 place order", {"action": "place_order"}, expect=(200, 302),
                           check=self.refused_at_placement)
        pay_path = urlsplit(placed.headers.get("Location", "")).path
        if not pay_path.startswith("/checkout/pay/"):
            outcome("error", f"12 place order: redirected to {pay_path!r}")
            raise Ended
        self.get(pay_path, "13 payment page")

        def paid(resp):
            try:
                status = resp.json().get("status")
            except ValueError:
                status = None
            return None if status == "succeeded" else "error"

        self.post(pay_path, "14 pay", {"payment_method": "pm_card_visa"}, expect=(200,),
                  headers={"Accept": "application/json"}, check=paid)
        self.get("/checkout/thank-you/", "15 thank-you page")
        outcome("paid", pay_path.rstrip("/").rsplit("/", 1)[-1])

    @staticmethod
    def back_to_basket(resp):
        if resp.status_code in (301, 302) and urlsplit(resp.headers.get("Location", "")).path == "/basket/":
            return "sold out: checkout sent the fan back to the basket"
        return None

    @staticmethod
    def refused_at_placement(resp):
        if resp.status_code == 200:
            return "sold out: refused at placement" if "out of stock" in resp.text else "error"
        return Fan.back_to_basket(resp)


class FlashShape(LoadTestShape):
    """Fans online: a linear ramp to PEAK over RAMP s, PEAK for HOLD s, a linear decay to 0 over DECAY s."""

    def tick(self):
        t = self.get_run_time()
        if t < RAMP:
            users = PEAK * t / RAMP
        elif t < RAMP + HOLD:
            users = PEAK
        elif t < RAMP + HOLD + DECAY:
            users = PEAK * (RAMP + HOLD + DECAY - t) / DECAY
        else:
            return None
        return max(1, round(users)), max(1.0, PEAK / max(RAMP, 1.0) * 2)
