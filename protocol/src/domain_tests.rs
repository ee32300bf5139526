//! Parsing at the boundary: what each domain type accepts and refuses.

use super::*;

#[test]
fn nfd_and_nfc_name_the_same_path() {
    let nfd = "thoughts/Cafe\u{301}.md";
    let nfc = "thoughts/Caf\u{e9}.md";
    assert_ne!(nfd, nfc);
    let a = VaultPath::parse(nfd).expect("valid");
    let b = VaultPath::parse(nfc).expect("valid");
    assert_eq!(a, b);
    assert_eq!(a.as_str(), nfc);
}

#[test]
fn the_nfc_quick_check_gives_what_the_full_normaliser_gives() {
    // NFC already, decomposed, a singleton that NFC replaces (the Kelvin and Ohm signs, the
    // Angstrom sign), composing marks in non-canonical order, Hangul jamo, and marks the
    // quick check answers "maybe" for.
    for raw in [
        "thoughts/Caf\u{e9}.md",
        "thoughts/Cafe\u{301}.md",
        "\u{212a}elvin \u{2126}hm \u{212b}ngstrom.md",
        "a\u{323}\u{302}.md",
        "a\u{302}\u{323}.md",
        "\u{1100}\u{1161}\u{11a8}.md",
        "e\u{300}\u{300}.md",
        "\u{fb01}le/\u{3055}\u{3099}.md",
        "plain ascii/name.md",
    ] {
        let full: String = raw.nfc().collect();
        assert_eq!(nfc(raw), full, "{raw:?}");
        assert_eq!(VaultPath::parse(raw).expect("valid").as_str(), full);
    }
}

#[test]
fn case_key_folds_letter_case_only() {
    let a = VaultPath::parse("Notes/Été.md").expect("valid");
    let b = VaultPath::parse("notes/ÉTÉ.md").expect("valid");
    assert_ne!(a, b);
    assert_eq!(a.case_key(), b.case_key());
    assert_ne!(
        a.case_key(),
        VaultPath::parse("notes/ete.md").expect("valid").case_key()
    );
}

#[test]
fn an_ascii_path_keys_as_the_unicode_rule_keys_it() {
    // Every ASCII character, alone and beside each other one, in a valid path.
    for a in 0x20u8..0x7f {
        for b in [b'A', b'z', b'0', b'.', a] {
            let raw = format!("dir/{}{}x.md", a as char, b as char);
            if let Ok(p) = VaultPath::parse(&raw) {
                assert_eq!(p.case_key(), full_case_key(p.as_str()), "{raw:?}");
            }
        }
    }
    let p = VaultPath::parse("Notes/README Draft-2.MD").expect("valid");
    assert_eq!(p.case_key(), "notes/readme draft-2.md");
    // Not ASCII: the full rule (the Kelvin sign lower-cases to an ASCII k).
    let kelvin = VaultPath::parse("\u{212a}elvin.md").expect("valid");
    assert_eq!(kelvin.case_key(), "kelvin.md");
    assert_eq!(kelvin.case_key(), full_case_key(kelvin.as_str()));
}

#[test]
fn good_paths_are_kept_as_given() {
    for p in [
        "a.md",
        "sources/2026/Reading list.md",
        "thoughts/.hidden.md",
        "日本語/ノート.md",
        "x/.steel.md",
        "notes/.steel/inner.md",
    ] {
        assert_eq!(VaultPath::parse(p).expect(p).as_str(), p);
    }
}

#[test]
fn bad_paths_are_refused_with_invalid_path() {
    let long_segment = "a".repeat(256);
    let long_path = format!("{}/x.md", ["abcdefghij"; 100].join("/"));
    let cases: Vec<&str> = vec![
        "",
        "/abs.md",
        "a//b.md",
        "a/",
        "./a.md",
        "a/../b.md",
        "..",
        "a\\b.md",
        "a\u{0}b.md",
        "a\nb.md",
        "a\u{7f}.md",
        "a\u{85}.md",
        ".steel/sync.db",
        ".steel",
        ".STEEL/x.md",
        &long_segment,
        &long_path,
    ];
    for p in cases {
        let err = VaultPath::parse(p).expect_err(p);
        assert_eq!(err.code, ErrorCode::InvalidPath, "{p:?}");
    }
    // Exactly at the limits is fine.
    let segment = "b".repeat(255);
    assert!(VaultPath::parse(&segment).is_ok());
    let at_limit = format!("{}/{}", "c".repeat(255), "d".repeat(1024 - 256));
    assert_eq!(at_limit.len(), 1024);
    assert!(VaultPath::parse(&at_limit).is_err(), "segment > 255 bytes");
    let at_limit = vec!["e".repeat(200); 5].join("/");
    assert!(at_limit.len() < 1024);
    assert!(VaultPath::parse(&at_limit).is_ok());
}

#[test]
fn content_hash_round_trips() {
    let h = ContentHash::of(b"hello");
    let hex = h.to_hex();
    assert_eq!(
        hex,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(ContentHash::parse(&hex).expect("valid"), h);
    assert_eq!(ContentHash::from_base64(&h.to_base64()), Some(h));
    assert_eq!(
        h.to_base64(),
        "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    );
}

#[test]
fn bad_hashes_are_refused() {
    for h in [
        "",
        "abc",
        &"A".repeat(64),
        &"g".repeat(64),
        &"a".repeat(63),
        &"a".repeat(65),
    ] {
        assert_eq!(
            ContentHash::parse(h).expect_err(h).code,
            ErrorCode::InvalidContentHash
        );
    }
}

#[test]
fn cursors_are_opaque_but_strict() {
    let c = Cursor::from_seq(42);
    assert_eq!(c.to_string(), "c42");
    assert_eq!(Cursor::parse("c42"), Ok(c));
    for bad in ["", "c", "42", "c-1", "c4x", "c99999999999999999999", " c1"] {
        assert_eq!(
            Cursor::parse(bad).expect_err(bad).code,
            ErrorCode::ResyncRequired
        );
    }
    let json = serde_json::to_string(&c).expect("json");
    assert_eq!(json, "\"c42\"");
    assert_eq!(serde_json::from_str::<Cursor>(&json).expect("json"), c);
}

#[test]
fn enums_parse_their_wire_names() {
    assert_eq!("ios".parse::<Platform>(), Ok(Platform::Ios));
    assert_eq!(
        "iOS".parse::<Platform>().expect_err("case").code,
        ErrorCode::InvalidValue
    );
    assert_eq!(
        "sandbox".parse::<PushEnvironment>(),
        Ok(PushEnvironment::Sandbox)
    );
    assert_eq!("google".parse::<Provider>(), Ok(Provider::Google));
    assert_eq!(Platform::ALL.len(), 3);
}

#[test]
fn the_case_key_tables_are_pinned() {
    // Moving either changes which names collide (and, in encrypted vaults, every path key):
    // such an update is a format change, made on purpose with new test vectors.
    assert_eq!(CASE_KEY_UNICODE, (17, 0, 0), "char::UNICODE_VERSION moved");
    assert_eq!(
        NFC_UNICODE,
        (18, 0, 0),
        "unicode-normalization's tables moved"
    );
}

#[test]
fn case_twins_name_both_paths() {
    let paths: Vec<VaultPath> = [
        "Notes/Todo.md",
        "a.md",
        "notes/TODO.md",
        "Notes/Todo.md",
        "Cafe\u{301}.md",
        "CAFÉ.md",
    ]
    .iter()
    .map(|p| VaultPath::parse(p).expect("valid"))
    .collect();
    let twins = case_twins(&paths);
    let named: Vec<(&str, &str)> = twins
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        named,
        vec![
            ("Notes/Todo.md", "notes/TODO.md"),
            ("Caf\u{e9}.md", "CAF\u{c9}.md")
        ]
    );
    assert!(case_twins(&paths[..2]).is_empty());
}
