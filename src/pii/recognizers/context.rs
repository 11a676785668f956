//! Context words near a candidate: what the text says just before a value.
//!
//! One case-insensitive Aho-Corasick automaton over every context word, run lazily over at
//! most [`WINDOW`] bytes before a candidate (only candidates whose shape already qualifies
//! pay for it). Each word belongs to one or more groups. The *label* is the group of the
//! word closest to the candidate: recognizers that cannot tell a value apart by its shape
//! alone (a medical record number, a passport number, a date of birth, a CVV) need the
//! label to name them; the others gain confidence from a label or from the group anywhere
//! in the window, and lose it near words like "order", "version" or "ISBN".

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, MatchKind};

/// How far before a candidate context words are looked for, in bytes.
pub const WINDOW: usize = 64;

/// Context groups, as bit flags.
pub mod group {
    pub const PHONE: u32 = 1 << 0;
    pub const SSN: u32 = 1 << 1;
    pub const CARD: u32 = 1 << 2;
    pub const IP: u32 = 1 << 3;
    pub const MAC: u32 = 1 << 4;
    pub const IBAN: u32 = 1 << 5;
    pub const ABA: u32 = 1 << 6;
    pub const PASSPORT: u32 = 1 << 7;
    pub const DOB: u32 = 1 << 8;
    pub const MRN: u32 = 1 << 9;
    pub const CVV: u32 = 1 << 10;
    pub const AWS: u32 = 1 << 11;
    pub const SECRET: u32 = 1 << 12;
    /// Words that make a number an identifier of something else: "order", "version",
    /// "ISBN", "invoice", "tracking", "build", "section"...
    pub const NEGATIVE: u32 = 1 << 31;
}

use group::*;

/// Context words and their groups. Matched ASCII-case-insensitively, at a word start; words
/// of three bytes or fewer, and secret words, must also end at a word boundary ("ip" is not
/// "ipsum", "secrets" is not "secret").
const WORDS: &[(&str, u32)] = &[
    // Phones.
    ("phone", PHONE),
    ("tel", PHONE),
    ("tel.", PHONE),
    ("telephone", PHONE),
    ("mobile", PHONE),
    ("cell", PHONE),
    ("call", PHONE),
    ("fax", PHONE),
    ("whatsapp", PHONE),
    ("text me", PHONE),
    ("sms", PHONE),
    ("contact", PHONE),
    ("reach me", PHONE),
    ("telefon", PHONE),
    ("handy", PHONE),
    ("rufnummer", PHONE),
    ("téléphone", PHONE),
    ("portable", PHONE),
    ("appelez", PHONE),
    ("telefone", PHONE),
    ("celular", PHONE),
    ("ligue", PHONE),
    ("電話", PHONE),
    ("携帯", PHONE),
    // US social security numbers.
    ("ssn", SSN),
    ("ss#", SSN),
    ("social security", SSN),
    ("social-security", SSN),
    ("soc sec", SSN),
    ("tax id", SSN),
    ("taxpayer", SSN),
    // Cards and their codes.
    ("card", CARD),
    ("visa", CARD),
    ("mastercard", CARD),
    ("amex", CARD),
    ("credit", CARD),
    ("debit", CARD),
    ("pan", CARD),
    ("karte", CARD),
    ("kreditkarte", CARD),
    ("carte", CARD),
    ("cartão", CARD),
    ("cartao", CARD),
    ("tarjeta", CARD),
    ("カード", CARD),
    ("cvv", CVV),
    ("cvv2", CVV),
    ("cvc", CVV),
    ("cvc2", CVV),
    ("cid", CVV),
    ("csc", CVV),
    ("security code", CVV),
    ("card code", CVV),
    ("card verification", CVV),
    ("pin", CVV),
    ("prüfnummer", CVV),
    ("cryptogramme", CVV),
    // Network.
    ("ip", IP),
    ("ipv4", IP),
    ("ipv6", IP),
    ("ip address", IP),
    ("host", IP),
    ("server", IP),
    ("client", IP),
    ("from", IP),
    ("login", IP),
    ("remote", IP),
    ("addr", IP),
    ("src", IP),
    ("dst", IP),
    ("gateway", IP),
    ("connected", IP),
    ("mac", MAC),
    ("mac address", MAC),
    ("hwaddr", MAC),
    ("ether", MAC),
    ("bssid", MAC),
    ("wifi", MAC),
    // Banking.
    ("iban", IBAN),
    ("bank account", IBAN),
    ("konto", IBAN),
    ("compte", IBAN),
    ("conta", IBAN),
    ("sepa", IBAN),
    ("routing", ABA),
    ("aba", ABA),
    ("rtn", ABA),
    ("ach", ABA),
    ("wire", ABA),
    ("transit number", ABA),
    ("bank", ABA | IBAN),
    // Identity documents, health.
    ("passport", PASSPORT),
    ("reisepass", PASSPORT),
    ("passeport", PASSPORT),
    ("passaporte", PASSPORT),
    ("pasaporte", PASSPORT),
    ("パスポート", PASSPORT),
    ("旅券", PASSPORT),
    ("dob", DOB),
    ("d.o.b", DOB),
    ("born", DOB),
    ("birth", DOB),
    ("birthday", DOB),
    ("birthdate", DOB),
    ("geboren", DOB),
    ("geburtsdatum", DOB),
    ("geburtstag", DOB),
    ("né le", DOB),
    ("née le", DOB),
    ("né(e) le", DOB),
    ("naissance", DOB),
    ("nascimento", DOB),
    ("nascido", DOB),
    ("nascida", DOB),
    ("nacimiento", DOB),
    ("生年月日", DOB),
    ("誕生日", DOB),
    ("生まれ", DOB),
    ("mrn", MRN),
    ("medical record", MRN),
    ("patient id", MRN),
    ("patient no", MRN),
    ("patient number", MRN),
    ("patient #", MRN),
    ("chart number", MRN),
    ("health record", MRN),
    ("patientennummer", MRN),
    ("dossier médical", MRN),
    ("prontuário", MRN),
    ("カルテ", MRN),
    // Secrets.
    ("aws", AWS | SECRET),
    ("amazon", AWS),
    ("secret", AWS | SECRET),
    ("password", SECRET),
    ("token", SECRET),
    ("api key", SECRET),
    ("credential", SECRET),
    // Identifiers of other things, versions, references.
    ("order", NEGATIVE),
    ("invoice", NEGATIVE),
    ("isbn", NEGATIVE),
    ("issn", NEGATIVE),
    ("tracking", NEGATIVE),
    ("ticket", NEGATIVE),
    ("ref", NEGATIVE),
    ("ref.", NEGATIVE),
    ("reference", NEGATIVE),
    ("serial", NEGATIVE),
    ("sku", NEGATIVE),
    ("part no", NEGATIVE),
    ("part number", NEGATIVE),
    ("item", NEGATIVE),
    ("product", NEGATIVE),
    ("model", NEGATIVE),
    ("confirmation", NEGATIVE),
    ("booking", NEGATIVE),
    ("reservation", NEGATIVE),
    ("case", NEGATIVE),
    ("transaction", NEGATIVE),
    ("shipment", NEGATIVE),
    ("parcel", NEGATIVE),
    ("colis", NEGATIVE),
    ("paket", NEGATIVE),
    ("sendung", NEGATIVE),
    ("encomenda", NEGATIVE),
    ("荷物", NEGATIVE),
    ("package", NEGATIVE),
    ("awb", NEGATIVE),
    ("bestellung", NEGATIVE),
    ("bestellnummer", NEGATIVE),
    ("rechnung", NEGATIVE),
    ("sendungsnummer", NEGATIVE),
    ("commande", NEGATIVE),
    ("facture", NEGATIVE),
    ("pedido", NEGATIVE),
    ("rastreio", NEGATIVE),
    ("注文", NEGATIVE),
    ("追跡", NEGATIVE),
    ("version", NEGATIVE),
    ("ver", NEGATIVE),
    ("ver.", NEGATIVE),
    ("v.", NEGATIVE),
    ("build", NEGATIVE),
    ("release", NEGATIVE),
    ("firmware", NEGATIVE),
    ("revision", NEGATIVE),
    ("rev", NEGATIVE),
    ("patch", NEGATIVE),
    ("upgrade", NEGATIVE),
    ("chrome", NEGATIVE),
    ("mozilla", NEGATIVE),
    ("section", NEGATIVE),
    ("chapter", NEGATIVE),
    ("§", NEGATIVE),
    ("figure", NEGATIVE),
    ("oid", NEGATIVE),
    ("timestamp", NEGATIVE),
    ("epoch", NEGATIVE),
    ("checksum", NEGATIVE),
    ("commit", NEGATIVE),
    ("request id", NEGATIVE),
    ("trace id", NEGATIVE),
];

static AUTOMATON: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(WORDS.iter().map(|(w, _)| w))
        .unwrap_or_else(|e| unreachable!("context words compile: {e}"))
});

/// What the words before a candidate say about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Context {
    /// Every group named in the window.
    pub flags: u32,
    /// The groups of the word closest to the candidate.
    pub label: u32,
}

impl Context {
    /// The context of a candidate starting at byte `start` of `text`.
    pub fn before(text: &str, start: usize) -> Self {
        let bytes = text.as_bytes();
        let mut from = start.saturating_sub(WINDOW);
        while !text.is_char_boundary(from) {
            from += 1;
        }
        let mut ctx = Self::default();
        let mut closest = (0usize, usize::MAX); // (end, start) of the closest word
        for m in AUTOMATON.find_overlapping_iter(Input::new(bytes).range(from..start)) {
            let (s, e) = (m.start(), m.end());
            let left_ok = s == 0 || !bytes[s - 1].is_ascii_alphanumeric();
            let groups = WORDS[m.pattern().as_usize()].1;
            // Short words, and secret words ("no secrets" is not "secret:"), end at a boundary.
            let right_ok = (e - s > 3 && groups & SECRET == 0)
                || !bytes[e - 1].is_ascii_alphanumeric()
                || bytes.get(e).is_none_or(|b| !b.is_ascii_alphanumeric());
            if !left_ok || !right_ok {
                continue;
            }
            ctx.flags |= groups;
            if e > closest.0 || (e == closest.0 && s < closest.1) {
                closest = (e, s);
                ctx.label = groups;
            } else if e == closest.0 && s == closest.1 {
                ctx.label |= groups;
            }
        }
        ctx
    }

    pub fn has(self, groups: u32) -> bool {
        self.flags & groups != 0
    }

    pub fn labelled(self, groups: u32) -> bool {
        self.label & groups != 0
    }

    /// A candidate's confidence from its shape's `base`, given the context group that names
    /// its entity: +0.4 when the closest word names it; otherwise +0.25 when a word in the
    /// window names it, and -0.5 near a negative word.
    pub fn adjust(self, base: f32, positive: u32) -> f32 {
        let mut confidence = base;
        if self.labelled(positive) {
            confidence += 0.4;
        } else {
            if self.has(positive) {
                confidence += 0.25;
            }
            if self.has(NEGATIVE) {
                confidence -= 0.5;
            }
        }
        confidence.clamp(0.0, 1.0)
    }
}

/// Context that is computed at most once, and only if asked for.
#[derive(Debug)]
pub struct LazyContext<'t> {
    text: &'t str,
    start: usize,
    value: Option<Context>,
}

impl<'t> LazyContext<'t> {
    pub fn new(text: &'t str, start: usize) -> Self {
        Self { text, start, value: None }
    }

    pub fn get(&mut self) -> Context {
        *self.value.get_or_insert_with(|| Context::before(self.text, self.start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(text: &str) -> Context {
        Context::before(text, text.len())
    }

    #[test]
    fn the_closest_word_is_the_label() {
        let c = ctx("order 12, my phone: ");
        assert!(c.has(NEGATIVE) && c.labelled(PHONE) && !c.labelled(NEGATIVE));
        assert!(ctx("Date of birth: ").labelled(DOB));
        assert!(ctx("Geburtsdatum ").labelled(DOB));
        assert!(ctx("Elle est née le ").labelled(DOB));
        assert!(ctx("生年月日：").labelled(DOB));
    }

    #[test]
    fn short_words_need_word_boundaries() {
        assert_eq!(ctx("lorem ipsum "), Context::default());
        assert_eq!(ctx("the ship "), Context::default());
        assert!(ctx("from IP ").labelled(IP));
        assert!(ctx("CVV: ").labelled(CVV));
        assert!(!ctx("spin ").has(CVV));
    }

    #[test]
    fn negatives_lower_and_labels_raise() {
        assert!(ctx("version ").adjust(0.9, IP) < 0.5);
        assert!(ctx("order #").adjust(0.95, CARD) < 0.5);
        assert!((ctx("my card ").adjust(0.95, CARD) - 1.0).abs() < 1e-6);
        // A label wins over a negative word further away.
        assert!(ctx("re: order 5521, card ").adjust(0.95, CARD) > 0.9);
    }

    #[test]
    fn windows_start_on_char_boundaries() {
        let text = format!("{}é 1", "x".repeat(WINDOW - 2));
        let _ = Context::before(&text, text.len() - 1);
    }
}
