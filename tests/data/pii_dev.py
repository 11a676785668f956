#!/usr/bin/env python3
"""Writes tests/data/pii_dev.jsonl: the labeled dev set of `palisade eval --pii`.

Lines are {"id", "text", "spans": [{"type", "start", "end"}]} with UTF-8 byte offsets.
Planted values carry valid checksums (Luhn cards, mod-97 IBANs, ABA routing numbers, SSA
SSNs); hard negatives (order numbers, versions, invalid-Luhn digit runs, timestamps, ISBNs,
GUIDs, tracking numbers, product codes) carry no spans. Sentences are in English, German,
French, Portuguese and Japanese. Deterministic: `python3 tests/data/pii_dev.py` rewrites the
same file.
"""

import base64
import json
import os
import random
import string

rng = random.Random(20261122)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pii_dev.jsonl")
samples = []


def add(kind, *parts):
    """parts: plain strings, or (type, value) pairs to label."""
    text, spans = "", []
    for p in parts:
        if isinstance(p, tuple):
            t, v = p
            start = len(text.encode())
            text += v
            spans.append({"type": t, "start": start, "end": len(text.encode())})
        else:
            text += p
    samples.append({"id": f"{kind}-{len(samples):04d}", "text": text, "spans": spans})


def fill(template, *values):
    """A template with {} slots filled by (type, value) pairs (or plain strings)."""
    chunks = template.split("{}")
    assert len(chunks) == len(values) + 1, template
    parts = []
    for chunk, value in zip(chunks, values):
        parts.append(chunk)
        parts.append(value)
    parts.append(chunks[-1])
    return parts


def digits(n):
    return "".join(rng.choice(string.digits) for _ in range(n))


def alnum(n, alphabet=string.ascii_letters + string.digits):
    return "".join(rng.choice(alphabet) for _ in range(n))


# ---------------------------------------------------------------- checksums

def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


CARD_BRANDS = [
    ("4", 16, "4444"), ("51", 16, "4444"), ("53", 16, "4444"), ("2221", 16, "4444"),
    ("2720", 16, "4444"), ("34", 15, "465"), ("37", 15, "465"), ("6011", 16, "4444"),
    ("65", 16, "4444"), ("3530", 16, "4444"), ("36", 14, "464"), ("62", 16, "4444"),
    ("4", 19, "44443"),
]


def card(valid=True, brand=None):
    prefix, length, groups = brand or rng.choice(CARD_BRANDS)
    body = prefix + digits(length - len(prefix) - 1)
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    number = body + check
    style = rng.choice(["space", "dash", "none"])
    if style == "none":
        return number
    out, at = [], 0
    for g in groups:
        out.append(number[at:at + int(g)])
        at += int(g)
    return (" " if style == "space" else "-").join(out)


IBAN_FORMATS = {
    "DE": "n18", "GB": "a4n14", "FR": "n23", "NL": "a4n10", "ES": "n20", "IT": "a1n22",
    "BE": "n12", "CH": "n17", "AT": "n16", "PL": "n24", "PT": "n21", "SE": "n20", "NO": "n11",
    "IE": "a4n14",
}


def iban(country=None, valid=True, spaced=None):
    country = country or rng.choice(list(IBAN_FORMATS))
    fmt, bban = IBAN_FORMATS[country], ""
    i = 0
    while i < len(fmt):
        kind = fmt[i]
        j = i + 1
        while j < len(fmt) and fmt[j].isdigit():
            j += 1
        n = int(fmt[i + 1:j])
        bban += alnum(n, string.ascii_uppercase) if kind == "a" else digits(n)
        i = j
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    if not valid:
        check = (check + rng.randint(1, 50)) % 97 + 2
    value = f"{country}{check:02d}{bban}"
    if spaced is None:
        spaced = rng.random() < 0.6
    if spaced:
        value = " ".join(value[k:k + 4] for k in range(0, len(value), 4))
    return value


def aba():
    prefix = rng.choice(["0" + str(rng.randint(1, 9)), str(rng.randint(10, 12)),
                         str(rng.randint(21, 32)), str(rng.randint(61, 72)), "80"])
    d = [int(c) for c in prefix + digits(6)]
    s = 3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5]
    d.append((10 - s % 10) % 10)
    return "".join(map(str, d))


def ssn(style="dash"):
    while True:
        area = rng.randint(1, 899)
        if area != 666:
            break
    value = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    if style == "dash":
        return f"{value[:3]}-{value[3:5]}-{value[5:]}"
    if style == "space":
        return f"{value[:3]} {value[3:5]} {value[5:]}"
    return value


# ---------------------------------------------------------------- phones

def nanp():
    while True:
        area = f"{rng.randint(2, 9)}{rng.randint(0, 8)}{rng.randint(0, 9)}"
        if area[1:] != "11":
            break
    return area, f"{rng.randint(2, 9)}{digits(2)}", digits(4)


def phone_us():
    a, e, l = nanp()
    return rng.choice([f"({a}) {e}-{l}", f"{a}-{e}-{l}", f"{a}.{e}.{l}", f"+1 {a} {e} {l}",
                       f"+1-{a}-{e}-{l}", f"1-{a}-{e}-{l}", f"+1 ({a}) {e}-{l}", f"{a} {e} {l}"])


def phone_uk():
    return rng.choice([
        f"020 7946 {digits(4)}", f"07700 900{digits(3)}", f"+44 20 7946 {digits(4)}",
        f"+44 7700 900{digits(3)}", f"0161 496 {digits(4)}", f"+44 (0)20 7946 {digits(4)}",
        f"0113 496 {digits(4)}", f"+447700900{digits(3)}",
    ])


def phone_de():
    return rng.choice([
        f"030 {digits(8)}", f"+49 30 {digits(8)}", f"0171 {digits(7)}", f"+49 171 {digits(7)}",
        f"089/{digits(7)}", f"0221-{digits(7)}", f"+49 (0)89 {digits(7)}", f"0151 {digits(3)} {digits(5)}",
    ])


def phone_fr():
    pairs = lambda: " ".join(digits(2) for _ in range(4))
    return rng.choice([
        f"01 {pairs()}", f"06 {pairs()}", f"+33 1 {pairs()}", f"+33 6 {pairs()}",
        "07." + ".".join(digits(2) for _ in range(4)), f"04 {pairs()}",
    ])


def phone_in():
    m = f"{rng.randint(6, 9)}{digits(4)}"
    return rng.choice([f"+91 {m} {digits(5)}", f"{m} {digits(5)}", f"022 2{digits(3)} {digits(4)}",
                       f"+91-{m}-{digits(5)}", f"+91{m}{digits(5)}"])


def phone_br():
    area = rng.randint(11, 99)
    return rng.choice([f"({area}) 9{digits(4)}-{digits(4)}", f"+55 {area} 9{digits(4)}-{digits(4)}",
                       f"({area}) {rng.randint(2, 5)}{digits(3)}-{digits(4)}",
                       f"+55 ({area}) 9{digits(4)}-{digits(4)}"])


def phone_jp():
    return rng.choice([f"03-{digits(4)}-{digits(4)}", f"090-{digits(4)}-{digits(4)}",
                       f"+81 3-{digits(4)}-{digits(4)}", f"+81 90-{digits(4)}-{digits(4)}",
                       f"06-{digits(4)}-{digits(4)}", f"0120-{digits(3)}-{digits(3)}",
                       f"080-{digits(4)}-{digits(4)}"])


# ---------------------------------------------------------------- other values

FIRST = ["jane", "john", "maria", "li", "ahmed", "sofia", "lukas", "chloé", "joão", "yuki",
         "priya", "oliver", "amélie", "jürgen", "ana", "kenji"]
LAST = ["doe", "smith", "garcia", "wang", "khan", "rossi", "müller", "dubois", "silva",
        "tanaka", "patel", "brown"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.co.uk", "beispiel.de",
           "exemple.fr", "exemplo.com.br", "example.jp", "uni-example.edu", "example.io"]


def email():
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}",
                        f"{first}+{rng.choice(['news', 'shop', 'x'])}", f"{first}_{last}"])
    if rng.random() < 0.15:
        local = local.upper()
    return f"{local}@{rng.choice(DOMAINS)}"


def ipv4():
    return rng.choice([
        f"{rng.randint(11, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        f"192.168.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
        f"172.{rng.randint(16, 31)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
    ])


def ipv6():
    g = lambda: f"{rng.randint(0, 0xffff):x}"
    return rng.choice([
        f"2001:db8:{g()}:{g()}::{g()}", f"fe80::{g()}:{g()}:{g()}:{g()}",
        ":".join(f"{rng.randint(0, 0xffff):04x}" for _ in range(8)),
        f"2a02:{g()}:{g()}:{g()}:{g()}:{g()}:{g()}:{g()}", f"::ffff:192.0.2.{rng.randint(1, 254)}",
    ])


def mac():
    octets = [f"{rng.randint(0, 255):02x}" for _ in range(6)]
    if rng.random() < 0.5:
        octets = [o.upper() for o in octets]
    style = rng.choice([":", ":", "-", "cisco"])
    if style == "cisco":
        h = "".join(octets).lower()
        return f"{h[0:4]}.{h[4:8]}.{h[8:12]}"
    return style.join(octets)


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwt():
    header = rng.choice(['{"alg":"HS256","typ":"JWT"}', '{"alg":"RS256","kid":"k1","typ":"JWT"}',
                         '{"typ":"JWT","alg":"ES256"}'])
    payload = json.dumps({"sub": str(rng.randint(1000, 99999)), "iat": rng.randint(1.6e9, 1.8e9),
                          "scope": "read write"}, separators=(",", ":"))
    sig = b64url(bytes(rng.randint(0, 255) for _ in range(32)))
    return f"{b64url(header.encode())}.{b64url(payload.encode())}.{sig}"


def pem():
    kind = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    body = base64.b64encode(bytes(rng.randint(0, 255) for _ in range(rng.randint(90, 200)))).decode()
    lines = "\n".join(body[k:k + 64] for k in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}\n-----END {kind}-----"


B62 = string.ascii_letters + string.digits
SECRET_MAKERS = {
    "aws_access_key_id": lambda: rng.choice(["AKIA", "ASIA"]) + alnum(16, string.ascii_uppercase + "234567"),
    "github_token": lambda: rng.choice([
        rng.choice(["ghp_", "gho_", "ghs_", "ghu_"]) + alnum(36, B62),
        "github_pat_" + alnum(22, B62) + "_" + alnum(59, B62)]),
    "gitlab_token": lambda: "glpat-" + alnum(20, B62 + "_-"),
    "slack_token": lambda: rng.choice(["xoxb-", "xoxp-"]) + f"{digits(12)}-{digits(13)}-" + alnum(24, B62),
    "stripe_key": lambda: rng.choice(["sk_live_", "rk_live_", "sk_test_"]) + alnum(24, B62),
    "openai_key": lambda: rng.choice([
        "sk-proj-" + alnum(48, B62 + "_-"),
        "sk-" + alnum(20, B62) + "T3BlbkFJ" + alnum(20, B62)]),
    "jwt": jwt,
    "private_key": pem,
}


def aws_secret():
    while True:
        value = alnum(40, B62 + "/+")
        if any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value):
            return value


def password():
    return rng.choice([
        alnum(rng.randint(10, 16), B62 + "!#%&*"), "Winter2026!" + digits(2),
        "correct-horse-" + alnum(6, string.ascii_lowercase), alnum(12, B62),
    ])


def token():
    return alnum(rng.randint(24, 40), B62)


# ---------------------------------------------------------------- positives

def E(t, v):
    return (t, v)


for _ in range(40):
    tpl = rng.choice([
        "Please send the invoice to {} by Friday.", "My email is {}, thanks!",
        "Schreiben Sie mir an {}, danke.", "Vous pouvez m'écrire à {} demain.",
        "Meu e-mail é {} — obrigado.", "連絡先は{}です。", "cc: {}; bcc: {}",
        "From: {}\nTo: {}\nSubject: hello", "Reply-To: <{}>",
    ])
    add("email", *fill(tpl, *[E("email", email()) for _ in range(tpl.count("{}"))]))

PHONE_TEMPLATES = [
    "Call me at {} after 6pm.", "You can reach the front desk on {}.", "My number is {}.",
    "Meine Telefonnummer ist {}.", "Rufen Sie mich unter {} an.", "Appelez-moi au {} demain.",
    "Mon portable : {}", "Meu telefone é {}.", "Ligue para {} amanhã.", "電話番号は{}です。",
    "携帯：{}", "Contact: {} (mobile)", "Fax {} / Tel. {}", "Text me on {} or {}.",
    "I'm at {} until noon.",
]
for maker in [phone_us, phone_uk, phone_de, phone_fr, phone_in, phone_br, phone_jp]:
    for _ in range(10):
        tpl = rng.choice(PHONE_TEMPLATES)
        add("phone", *fill(tpl, *[E("phone", maker()) for _ in range(tpl.count("{}"))]))

for _ in range(30):
    style = rng.choice(["dash", "dash", "space", "bare"])
    tpl = rng.choice([
        "My SSN is {} for the tax form.", "SSN: {}", "social security number {}",
        "Her social security no. is {}, DOB on file.", "Taxpayer ID (SSN) {} attached.",
        "Employee SSN {}; start date 2026-01-05.",
    ] if style == "bare" else [
        "My SSN is {} for the tax form.", "SSN: {}", "social security number {}",
        "Please verify {} against the W-2.", "ssn={} name=J. Doe", "The applicant ({}) was approved.",
        "Die SSN lautet {}.",
    ])
    add("ssn", *fill(tpl, E("us_ssn", ssn(style))))

for _ in range(45):
    tpl = rng.choice([
        "Please charge my card {} for the renewal.", "Card number: {} exp 12/29",
        "Visa {} — CVV on the back.", "Meine Kreditkarte: {}", "Carte bancaire {} expirant 03/28.",
        "Número do cartão: {}", "カード番号は{}です。", "use {} for the deposit",
        "PAN {} flagged by fraud team.", "Pay with {} please", "{}",
    ])
    add("card", *fill(tpl, E("credit_card", card())))

for country in list(IBAN_FORMATS) * 3:
    tpl = rng.choice([
        "IBAN: {}", "Bitte überweisen Sie auf {} (Sparkasse).", "Mon IBAN est {}.",
        "Send the refund to {} please.", "Conta IBAN {}, obrigado.", "Wire to IBAN {} by Monday.",
        "Bankverbindung: {}",
    ])
    add("iban", *fill(tpl, E("iban", iban(country))))

for _ in range(30):
    tpl = rng.choice([
        "routing number {}", "ABA {} / account 000123456789", "Routing #: {}",
        "ACH routing {} and account ending 4421", "Our bank's RTN is {}.",
        "Direct deposit: routing {}, checking.", "wire instructions: ABA routing number {}",
    ])
    add("aba", *fill(tpl, E("us_bank_routing", aba())))

for _ in range(35):
    value = ipv4() if rng.random() < 0.65 else ipv6()
    tpl = rng.choice([
        "The login came from IP {} yesterday.", "Server {} is not responding.", "ping {}",
        "Verbindung von {} abgelehnt.", "connexion depuis {} refusée", "acesso bloqueado do IP {}",
        "接続元IPアドレス：{}", "GET /admin from {} returned 403", "allow {} in the firewall",
        "client_ip={} user=alice",
    ])
    add("ip", *fill(tpl, E("ip_address", value)))

for _ in range(15):
    tpl = rng.choice(["MAC address {}", "device {} joined the network", "HWaddr {}",
                      "MAC-Adresse: {}", "adresse MAC {}", "bssid={}"])
    add("mac", *fill(tpl, E("mac_address", mac())))

for _ in range(15):
    value = digits(9) if rng.random() < 0.5 else rng.choice(string.ascii_uppercase) + digits(8)
    tpl = rng.choice(["Passport No. {}", "US passport number: {}", "my passport {} expires in May",
                      "Reisepass-Nr. {}", "numéro de passeport {}", "passaporte americano {}"])
    add("passport", *fill(tpl, E("us_passport", value)))

MONTHS = {"en": ["January", "March", "May", "July", "September", "November", "February"],
          "de": ["Januar", "März", "Mai", "Juli", "Oktober", "Dezember"],
          "fr": ["janvier", "mars", "mai", "juillet", "août", "décembre"],
          "pt": ["janeiro", "março", "maio", "julho", "agosto", "dezembro"]}
for _ in range(30):
    y, m, d = rng.randint(1935, 2008), rng.randint(1, 12), rng.randint(1, 28)
    lang = rng.choice(["en", "en", "de", "fr", "pt", "ja"])
    if lang == "en":
        tpl, value = rng.choice([
            ("DOB: {}", f"{y}-{m:02d}-{d:02d}"), ("Date of birth: {}", f"{m:02d}/{d:02d}/{y}"),
            ("born on {}", f"{rng.choice(MONTHS['en'])} {d}, {y}"),
            ("Patient (DOB {}) presented with", f"{d} {rng.choice(MONTHS['en'])} {y}"),
            ("birthdate={}", f"{y}-{m:02d}-{d:02d}")])
    elif lang == "de":
        tpl, value = rng.choice([("geboren am {} in Köln", f"{d:02d}.{m:02d}.{y}"),
                                 ("Geburtsdatum: {}", f"{d}. {rng.choice(MONTHS['de'])} {y}")])
    elif lang == "fr":
        tpl, value = rng.choice([("Elle est née le {}.", f"{d} {rng.choice(MONTHS['fr'])} {y}"),
                                 ("date de naissance : {}", f"{d:02d}/{m:02d}/{y}")])
    elif lang == "pt":
        tpl, value = rng.choice([("data de nascimento: {}", f"{d:02d}/{m:02d}/{y}"),
                                 ("nascido em {}", f"{d} de {rng.choice(MONTHS['pt'])} de {y}")])
    else:
        tpl, value = "生年月日：{}", f"{y}年{m}月{d}日"
    add("dob", *fill(tpl, E("date_of_birth", value)))

for _ in range(20):
    value = rng.choice([digits(8), digits(7), "MR" + digits(7), digits(10), f"{digits(3)}-{digits(4)}"])
    tpl = rng.choice(["MRN: {}", "medical record number {}", "Patient ID: {}", "MRN {} admitted to ward 4",
                      "medical record # {}", "Patientennummer {}"])
    add("mrn", *fill(tpl, E("medical_record_number", value)))

for _ in range(12):
    tpl = rng.choice(["CVV {}", "security code: {}", "CVC: {}", "card verification code {}"])
    add("cvv", *fill(tpl, E("card_security_code", digits(rng.choice([3, 3, 4])))))

for _ in range(25):
    kind = rng.choice(["userinfo", "userinfo", "query", "query", "fragment"])
    if kind == "userinfo":
        scheme = rng.choice(["postgres", "mysql", "https", "redis", "amqp", "mongodb+srv"])
        user = rng.choice(["admin", "app", "deploy", "svc_reader"])
        host = rng.choice(["db.internal:5432/app", "cache.example.com:6379", "git.example.com/repo.git",
                           "cluster0.example.net/prod"])
        add("url", *fill("connect with {}://" + user + ":{}@" + host, scheme, E("url_credential", password())))
    elif kind == "query":
        param = rng.choice(["access_token", "token", "api_key", "sig", "apikey", "client_secret", "auth_token"])
        add("url", *fill("GET https://api.example.com/v2/items?limit=10&" + param + "={}&page=2",
                         E("url_credential", token())))
    else:
        add("url", *fill("redirected to https://app.example.com/cb#access_token={}&expires_in=3600",
                         E("url_credential", token())))

for name, maker in SECRET_MAKERS.items():
    for _ in range(12):
        tpl = rng.choice([
            "here is my key {} please debug", "export TOKEN={}", "config: {}",
            "Ich habe den Schlüssel {} eingefügt.", "voici la clé {} pour le test",
            "a chave é {}", "キーは {} です", "{}",
        ] if name != "private_key" else ["key:\n{}\nthanks", "{}", "Hier der Schlüssel:\n{}"])
        add("secret", *fill(tpl, E(name, maker())))

for _ in range(12):
    tpl = rng.choice(["aws_secret_access_key = {}", "AWS secret key: {}",
                      "export AWS_SECRET_ACCESS_KEY={}", "the aws secret is {} (rotate it)"])
    add("secret", *fill(tpl, E("aws_secret_access_key", aws_secret())))

for _ in range(30):
    tpl, value = rng.choice([
        ('DB_PASSWORD={}', password()), ('{{"password": "{}"}}', password()),
        ("api_key: {}", token()), ("client_secret='{}'", token()),
        ("Authorization: Bearer {}", token()), ('{{"username": "bob", "passwd": "{}"}}', password()),
        ("SECRET_KEY = \"{}\"", token()), ("senha={}", password()),
    ])
    tpl = tpl.replace("{{", "{").replace("}}", "}").replace("{\"", "{\"") if tpl.startswith("{{") else tpl
    if tpl.startswith('{"'):
        # JSON templates: the only {} left is the slot.
        head, tail = tpl.split('"{}"') if '"{}"' in tpl else (tpl, "")
        add("secret", head + '"', E("generic_secret", value), '"' + tail)
    else:
        add("secret", *fill(tpl, E("generic_secret", value)))

# Mixed, multilingual.
for _ in range(30):
    pick = rng.randrange(6)
    if pick == 0:
        add("mixed", *fill("Kunde {} (Tel. {}) zahlt per IBAN {}.", E("email", email()),
                           E("phone", phone_de()), E("iban", iban("DE"))))
    elif pick == 1:
        add("mixed", *fill("Client : {}, téléphone {}, carte {}.", E("email", email()),
                           E("phone", phone_fr()), E("credit_card", card())))
    elif pick == 2:
        add("mixed", *fill("顧客メール：{}、電話：{}、IP：{}", E("email", email()),
                           E("phone", phone_jp()), E("ip_address", ipv4())))
    elif pick == 3:
        add("mixed", *fill("Cliente {} ligou de {}; cartão {} recusado.", E("email", email()),
                           E("phone", phone_br()), E("credit_card", card())))
    elif pick == 4:
        add("mixed", *fill("Update the CRM: SSN {}, routing number {}, phone {}.",
                           E("us_ssn", ssn()), E("us_bank_routing", aba()), E("phone", phone_us())))
    else:
        add("mixed", *fill("Order #{} for {} shipped to IP {}; card {}.", digits(8),
                           E("email", email()), E("ip_address", ipv4()), E("credit_card", card())))

# ---------------------------------------------------------------- hand-written hard cases
# Real-world variants written without looking at the recognizers. Some are known misses.

def H(template, *values):
    add("hard", *fill(template, *values))


H("Call me: {} ext. 204", E("phone", "+1 415-555-0132"))
H("tel:{} (click to call)", E("phone", "+14155550132"))
H("Reach us on {}.", E("phone", "(+44) 20 7946 0958"))
H("Telefon: {}", E("phone", "+49 (0) 30 1234 5678"))
H("Freephone {} (UK)", E("phone", "0800 123 4567"))
H("Standard : {}", E("phone", "+33 (0)1 23 45 67 89"))
H("Fixo: {}", E("phone", "+55 21 2345-6789"))
H("Tokyo office {}", E("phone", "+81-3-1234-5678"))
H("Mumbai desk: {}", E("phone", "+91 22 2345 6789"))
H("US: {} toll free", E("phone", "1 (800) 555-0199"))
H("phone:{}", E("phone", "4155550132"))
H('{"name": "Ana", "phone": "{}"}', E("phone", "+1-415-555-0132"))
H("Whatsapp {} por favor", E("phone", "+55 11 98765-4321"))
H("電話：{}（平日のみ）", E("phone", "03-5555-1234"))
H("Handy {}", E("phone", "0176 12345678"))
H("Ruf an: {}", E("phone", "+49 176 1234 5678"))
H("Mobile {}", E("phone", "+44 7911 123456"))
H("Portable : {}", E("phone", "06 12 34 56 78"))
H("Write to {}.", E("email", "First.Last@sub.example.museum"))
H("Email {} about the lease", E("email", "o'brien@example.ie"))
H("MAILTO:{}", E("email", "jane@example.com"))
H("Contact <{}>.", E("email", "support-team@example.co.uk"))
H("E-Mail: {}.", E("email", "max.mustermann@gmx.de"))
H("{}", E("email", "x@example.org"))
H('{"to": "{}", "subject": "Re: refund"}', E("email", "amelia.w@example.net"))
H("cc: {}", E("credit_card", "4012888888881881"))
H("card {} exp 04/27", E("credit_card", "5500 0000 0000 0004"))
H("amex {} cid {}", E("credit_card", "3714 496353 98431"), E("card_security_code", "1234"))
H("Discover: {}", E("credit_card", "6011 1111 1111 1117"))
H('{"pan": "{}"}', E("credit_card", "4111111111111111"))
H("Kartennummer {} gültig bis 09/28", E("credit_card", "4000-0566-5566-5556"))
H("SSN#{}", E("us_ssn", "123-45-6789"))
H("SSN:{}", E("us_ssn", "219099999"))
H("ssn {} (spouse)", E("us_ssn", "078 05 1121"))
H("IBAN {}", E("iban", "CH93 0076 2011 6238 5295 7"))
H("Konto: {}", E("iban", "NO93 8601 1117 947"))
H("iban: {}", E("iban", "GB29NWBK60161331926819"))
H("IP: {}", E("ip_address", "8.8.8.8"))
H("resolver {} answered", E("ip_address", "1.1.1.1"))
H("listening on {}:8080", E("ip_address", "192.168.0.1"))
H("peer {} disconnected", E("ip_address", "2001:db8::1"))
H("X-Forwarded-For: {}, {}", E("ip_address", "203.0.113.7"), E("ip_address", "198.51.100.23"))
H('{"ip": "{}", "port": 443}', E("ip_address", "172.16.4.20"))
H("creds: {}", E("aws_access_key_id", "AKIAZ7VRSQ4TEXAMPLE1"))
H("slack {}", E("slack_token", "xoxa-2-1234567890-1234567890123-abcdefABCDEF123456"))
H("token {}", E("github_token", "ghr_1B4a2e77838347a7E420ce178F2E7c6912E1"))
H("ANTHROPIC_API_KEY={}", E("openai_key", "sk-ant-api03-AbCdEf0123456789_AbCdEf0123456789-XyZ"))
H("unsigned {} accepted?!", E("jwt", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9."))
H("DOB {}", E("date_of_birth", "03/12/85"))
H("d.o.b. {}", E("date_of_birth", "12-03-1985"))
H("Birthday: {}", E("date_of_birth", "July 4th, 1976"))
H("Patient born {}, MRN {}.", E("date_of_birth", "1950-11-02"), E("medical_record_number", "4471920"))
H("redis://:{}@cache.internal:6379/0", E("url_credential", "s3cr3tPassw0rd"))
H("https://hooks.example.com/notify?token={}", E("url_credential", "a1B2c3D4e5F6g7H8i9J0"))
H("PGPASSWORD={} psql -h db", E("generic_secret", "n0t-S0-s3cret!"))
H("export API_TOKEN='{}'", E("generic_secret", "f8e7d6c5b4a39281706f5e4d3c2b1a09"))
H("The wifi password is {}", E("generic_secret", "Tr0ub4dor&3"))
H("電話番号は{}です", E("phone", "０３－１２３４－５６７８"))
H("card {} please", E("credit_card", "4111.1111.1111.1111"))
H("IBAN {}", E("iban", "de89 3704 0044 0532 0130 00"))

add("hard-negative", "Call extension 2041 or room 415.")
add("hard-negative", "blocked 10.0.0.0/8 at the edge (a network, not a host)")
add("hard-negative", "The Boeing 737-800 seats 189 passengers.")
add("hard-negative", "Patch KB5034441 failed with 0x80070643.")
add("hard-negative", "Order 112-4567890-1234567 (Amazon) arrived.")
add("hard-negative", "See RFC 3986 section 3.2.1 for userinfo.")
add("hard-negative", "Lat/long 37.7749, -122.4194 is San Francisco.")
add("hard-negative", "Use 127.0.0.1 or localhost for tests, not 0.0.0.0.")
add("hard-negative", "Python 3.12.1.0 is not a real release.")
add("hard-negative", "The hash is 5d41402abc4b2a76b9719d911017c592 (md5 of hello).")
add("hard-negative", "Invoice INV-2026-000123 total 1.234,56 EUR")
add("hard-negative", "Ticket #482913 — customer says the app crashes on 14.4.1.")
add("hard-negative", "ISBN 978-0-306-40615-7 and ISSN 2049-3630")
add("hard-negative", "UUID 123e4567-e89b-12d3-a456-426614174000 created")
add("hard-negative", "Serial number SN-4485-2201-9937-1145")
add("hard-negative", "Die PLZ ist 10115, die Hausnummer 12.")
add("hard-negative", "Scores: 98 87 92 75 88 91 79 85 90 83")
add("hard-negative", "Run `kubectl scale --replicas=3 deployment/api`.")
add("hard-negative", "password reset link expired; token is no longer valid")
add("hard-negative", "Set OPENAI_API_KEY in your environment (never commit it).")
add("hard-negative", "docker pull nginx@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31")

# ---------------------------------------------------------------- hard negatives

def guid():
    h = lambda n: "".join(rng.choice("0123456789abcdef") for _ in range(n))
    return f"{h(8)}-{h(4)}-4{h(3)}-{rng.choice('89ab')}{h(3)}-{h(12)}"


def isbn13():
    body = "978" + digits(9)
    s = sum(int(c) * (1 if i % 2 == 0 else 3) for i, c in enumerate(body))
    full = body + str((10 - s % 10) % 10)
    return rng.choice([full, f"{full[:3]}-{full[3]}-{full[4:6]}-{full[6:12]}-{full[12]}"])


NEGATIVES = [
    lambda: f"Order #{digits(rng.choice([8, 10, 12, 16]))} has shipped.",
    lambda: f"Your order number is {digits(10)}.",
    lambda: f"Invoice {digits(9)} is overdue.",
    lambda: f"Bestellnummer {digits(10)} wurde versandt.",
    lambda: f"Commande n° {digits(10)} expédiée.",
    lambda: f"Pedido {digits(12)} confirmado.",
    lambda: f"注文番号{digits(12)}を確認しました。",
    lambda: f"Version {rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} fixes the crash.",
    lambda: f"Upgrade to v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} today.",
    lambda: f"build {rng.randint(1, 12)}.0.{rng.randint(10000, 22000)}.{rng.randint(1, 999)}",
    lambda: f"firmware {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} installed",
    lambda: f"User-Agent: Mozilla/5.0 Chrome/{rng.randint(100, 130)}.0.0.0 Safari/537.36",
    lambda: f"See section {rng.randint(1, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)}.{rng.randint(1, 9)} of the spec.",
    lambda: f"Reference {card(valid=False)} was rejected.",
    lambda: f"Batch {card(valid=False)} processed.",
    lambda: f"Tracking number 1Z{alnum(6, string.ascii_uppercase + string.digits)}{digits(10)}",
    lambda: f"USPS tracking {digits(4)} {digits(4)} {digits(4)} {digits(4)} {digits(4)} {digits(2)}",
    lambda: f"FedEx tracking {digits(12)}",
    lambda: f"Sendungsnummer {digits(14)}",
    lambda: f"ISBN {isbn13()}",
    lambda: f"ISBN-10 0-{digits(3)}-{digits(5)}-{rng.randint(0, 9)}",
    lambda: f"request id {guid()}",
    lambda: f"trace {guid()} failed at step 3",
    lambda: f"timestamp {rng.randint(1_600_000_000, 1_800_000_000)}",
    lambda: f"ts={rng.randint(1_600_000_000_000, 1_800_000_000_000)}",
    lambda: f"at 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z",
    lambda: f"logged 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}",
    lambda: f"Meeting on {rng.randint(1, 28)} March 2026 at 10:30.",
    lambda: f"Released on 1985-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}.",
    lambda: f"SKU {digits(3)}-{digits(4)}-{digits(2)} is out of stock.",
    lambda: f"Part no. {digits(4)}-{digits(3)}-{digits(3)}",
    lambda: f"Model {alnum(2, string.ascii_uppercase)}-{digits(4)}-{digits(3)}",
    lambda: f"Total: ${rng.randint(1, 999)},{digits(3)},{digits(3)}.{digits(2)}",
    lambda: f"Coordinates {rng.randint(-89, 89)}.{digits(4)}, {rng.randint(-179, 179)}.{digits(4)}",
    lambda: f"commit {''.join(rng.choice('0123456789abcdef') for _ in range(40))}",
    lambda: f"sha256 {''.join(rng.choice('0123456789abcdef') for _ in range(64))}",
    lambda: f"ratio {rng.randint(1, 9)}:{rng.randint(1, 9)}:{rng.randint(1, 9)} and at {rng.randint(10, 23)}:{rng.randint(10, 59)}:{rng.randint(10, 59)}",
    lambda: "Install sk-learn-compatible-estimator-pipeline via pip.",
    lambda: "AWS access keys start with AKIA; never paste one here.",
    lambda: "Use the ghp_ prefix check in the scanner.",
    lambda: f"IBAN {iban('DE', valid=False)} is invalid, please re-check.",
    lambda: f"Ticket {digits(9)} was closed.",
    lambda: f"zip code {digits(5)}-{digits(4)}",
    lambda: f"Room {digits(3)}, floor {rng.randint(1, 30)}, ext. {digits(4)}",
    lambda: f"Temperature rose 3.{digits(2)} degrees over {rng.randint(2, 9)} years.",
    lambda: "npm install lodash@4.17.21 && open icon@2x.png",
    lambda: f"password: ${{DB_PASSWORD}} and api_key=<your-api-key>",
    lambda: f"max_tokens: {rng.choice([256, 1024, 4096])}, temperature: 0.{rng.randint(1, 9)}",
    lambda: "Die Lieferung kommt am 12.03. zwischen 10 und 12 Uhr.",
    lambda: "Le colis n° " + digits(13) + " est en route.",
    lambda: "O código de rastreio é BR" + digits(9) + "BR.",
    lambda: f"Die Rechnung {digits(8)} über 1.234,56 € ist bezahlt.",
    lambda: "価格は1,280円（税込）です。",
    lambda: f"Step {rng.randint(1, 9)} of {rng.randint(10, 20)}: run make -j{rng.randint(2, 16)}",
    lambda: f"The base64 blob {alnum(40, B62 + '/+')} decodes to a PNG.",
    lambda: f"Matrix size {rng.randint(100, 999)} x {rng.randint(100, 999)} x {rng.randint(100, 999)}",
]
for _ in range(260):
    add("negative", rng.choice(NEGATIVES)())

with open(OUT, "w", encoding="utf-8") as f:
    for s in samples:
        f.write(json.dumps(s, ensure_ascii=False) + "\n")
print(f"wrote {len(samples)} samples to {OUT}")
