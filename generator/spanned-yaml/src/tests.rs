use serde_json::{Value, json};

use super::*;

fn one(text: &str) -> Loaded {
    load(text, &Options::default())
        .expect("loads")
        .expect("has a document")
}

fn errors(text: &str, limits: Limits) -> Vec<Error> {
    load(
        text,
        &Options {
            limits,
            scalar_hook: None,
        },
    )
    .expect_err("is refused")
}

#[test]
fn plain_scalars_follow_the_core_schema() {
    assert_eq!(resolve_plain("yes"), Value::String("yes".into()));
    assert_eq!(resolve_plain("1.30"), json!(1.3));
    assert_eq!(resolve_plain("2000"), json!(2000));
    assert_eq!(resolve_plain("~"), Value::Null);
    assert_eq!(resolve_plain("NULL"), Value::Null);
    assert_eq!(resolve_plain("True"), Value::Bool(true));
    assert_eq!(resolve_plain("0x1F"), json!(31));
    assert_eq!(resolve_plain("0o17"), json!(15));
    assert_eq!(resolve_plain("+12"), json!(12));
    assert_eq!(resolve_plain("1e3"), json!(1000.0));
    assert_eq!(resolve_plain("18446744073709551615"), json!(u64::MAX));
    assert_eq!(resolve_plain(".inf"), Value::String(".inf".into()));
    assert_eq!(resolve_plain(".nan"), Value::String(".nan".into()));
    assert_eq!(resolve_plain("on"), Value::String("on".into()));
    assert_eq!(
        resolve_plain("10.0.0.0/16"),
        Value::String("10.0.0.0/16".into())
    );
    assert_eq!(resolve_plain("v1.2.3"), Value::String("v1.2.3".into()));
}

#[test]
fn converts_styles_tags_keys_and_aliases() {
    let d = one(concat!(
        "a: 1.30\n",
        "b: '1.30'\n",
        "c: !!str 5\n",
        "d: !!int 5\n",
        "e: ~\n",
        "f:\n",
        "1.50: literal key\n",
        "g: &x {k: [1, two]}\n",
        "h: *x\n",
        "i: |\n  block\n",
    ));
    assert_eq!(
        d.value,
        json!({
            "a": 1.3, "b": "1.30", "c": "5", "d": 5, "e": null, "f": null,
            "1.50": "literal key", "g": {"k": [1, "two"]}, "h": {"k": [1, "two"]},
            "i": "block\n"
        })
    );
}

#[test]
fn empty_text_has_no_document_and_a_stream_has_all() {
    assert!(load("", &Options::default()).unwrap().is_none());
    assert!(
        load("# only a comment\n", &Options::default())
            .unwrap()
            .is_none()
    );
    assert_eq!(one("---\n").value, Value::Null);
    let docs = load_all("a: 1\n---\n---\n- x\n", &Options::default()).unwrap();
    let values: Vec<&Value> = docs.iter().map(|d| &d.value).collect();
    assert_eq!(values, [&json!({"a": 1}), &Value::Null, &json!(["x"])]);
    let err = load("a: 1\n---\nb: 2\n", &Options::default()).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].kind, ErrorKind::MultipleDocuments);
    assert_eq!((err[0].span.line, err[0].span.column), (2, 1));
}

#[test]
fn every_node_and_key_has_a_position_with_character_columns() {
    let text = "a:\n  b: [1, x]\n  c:\n    - d: é\n      e: 2\n  ü: 'ñ'\n";
    let d = one(text);
    let p = &d.positions;
    assert_eq!((p["/a/b/1"].value.line, p["/a/b/1"].value.column), (2, 10));
    assert_eq!(p["/a/c/0/e"].key.map(|k| (k.line, k.column)), Some((5, 7)));
    assert_eq!(
        p["/a/c/0/e"].value.offset,
        "a:\n  b: [1, x]\n  c:\n    - d: é\n      e: ".len()
    );
    // After `é` (two bytes, one character) columns count characters, offsets bytes.
    let u = p["/a/ü"];
    let key = u.key.unwrap();
    assert_eq!((key.line, key.column), (6, 3));
    assert_eq!(&text[key.offset..key.offset + key.len], "ü");
    assert_eq!((u.value.line, u.value.column), (6, 6));
    assert_eq!(&text[u.value.offset..u.value.offset + u.value.len], "'ñ'");
    // Collections are located at their first character, with length zero.
    assert_eq!(p["/a/c"].value.line, 4);
    assert_eq!(p["/a/c"].value.len, 0);
    assert!(p.get("/a/zz").is_none());
    let near = p.nearest("/a/b/1/deeper").unwrap();
    assert_eq!((near.depth, near.exact), (3, false));
    assert_eq!(near.spans, &p["/a/b/1"]);
    assert_eq!(p.nearest("/nope").unwrap().depth, 0);
    assert!(Positions::default().nearest("").is_none());
}

#[test]
fn pointers_are_escaped_and_indices_canonical() {
    let d = one("\"a/b\": {\"~c\": [x, y]}\n");
    assert_eq!(d.positions["/a~1b/~0c/1"].value.column, 19);
    assert!(d.positions.get("/a~1b/~0c/01").is_none());
    assert_eq!(escape_token("a/~b"), "a~1~0b");
}

#[test]
fn an_alias_is_located_at_the_alias() {
    let d = one("base: &b {x: {y: 1}}\nother: *b\n");
    assert_eq!(d.value["other"], json!({"x": {"y": 1}}));
    let near = d.positions.nearest("/other/x/y").unwrap();
    assert_eq!(near.depth, 1);
    assert_eq!((near.spans.value.line, near.spans.value.column), (2, 8));
}

#[test]
fn duplicate_and_non_scalar_keys_are_all_reported() {
    let err = errors("a: 1\na: 2\nb:\n  c: 1\n  c: 3\n", Limits::default());
    assert_eq!(err.len(), 2);
    assert_eq!(err[0].kind, ErrorKind::DuplicateKey("a".into()));
    assert_eq!(
        (
            err[0].span.line,
            err[0].span.column,
            err[0].pointer.as_str()
        ),
        (2, 1, "/a")
    );
    assert_eq!(
        (
            err[1].span.line,
            err[1].span.column,
            err[1].pointer.as_str()
        ),
        (5, 3, "/b/c")
    );
    let err = errors("? [a, b]\n: 1\nx: {? {k: v} : 2}\n", Limits::default());
    assert_eq!(err.len(), 2);
    assert!(err.iter().all(|e| e.kind == ErrorKind::NonScalarKey));
    assert_eq!(err[1].pointer, "/x");
}

#[test]
fn tags_outside_the_core_schema_and_unknown_syntax_are_refused() {
    let err = errors("a: !custom 5\n", Limits::default());
    assert_eq!(err[0].kind, ErrorKind::UnsupportedTag("!custom".into()));
    assert_eq!(err[0].pointer, "/a");
    let err = errors("a: [1, 2\n", Limits::default());
    assert!(matches!(err[0].kind, ErrorKind::Syntax(_)), "{err:?}");
    assert!(err[0].to_string().contains("YAML syntax error"));
}

#[test]
fn the_scalar_hook_rewrites_values_but_not_keys() {
    let hook = |s: &str| -> Result<Option<Rewrite>, String> {
        match s {
            "$N" => Ok(Some(Rewrite {
                text: "50".into(),
                plain: true,
            })),
            "x-$N" => Ok(Some(Rewrite {
                text: "x-50".into(),
                plain: false,
            })),
            "$BAD" => Err("no such variable".into()),
            _ => Ok(None),
        }
    };
    let options = Options {
        limits: Limits::default(),
        scalar_hook: Some(&hook),
    };
    let d = load("$N: $N\nq: '$N'\nr: x-$N\n", &options)
        .unwrap()
        .unwrap();
    assert_eq!(d.value, json!({"$N": 50, "q": "50", "r": "x-50"}));
    let err = load("a:\n  - $BAD\n", &options).unwrap_err();
    assert_eq!(err[0].kind, ErrorKind::Scalar("no such variable".into()));
    assert_eq!((err[0].span.line, err[0].pointer.as_str()), (2, "/a/0"));
}

#[test]
fn input_size_is_limited_with_a_location() {
    let limits = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    let err = errors("a: 1\nb: 2\nc: 3\n", limits);
    assert_eq!(err.len(), 1);
    assert_eq!(
        err[0].kind,
        ErrorKind::InputTooLarge {
            size: 15,
            limit: 10
        }
    );
    assert_eq!((err[0].span.line, err[0].span.column), (3, 1));
}

#[test]
fn nesting_depth_is_limited_flow_and_block() {
    let limits = Limits {
        max_depth: 8,
        ..Limits::default()
    };
    let flow = format!("{}x{}", "[".repeat(9), "]".repeat(9));
    let err = errors(&flow, limits);
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].kind, ErrorKind::TooDeep { limit: 8 });
    assert_eq!((err[0].span.line, err[0].span.column), (1, 9));
    assert_eq!(err[0].pointer, "/0/0/0/0/0/0/0/0");
    assert!(
        load(
            &format!("{}x{}", "[".repeat(8), "]".repeat(8)),
            &Options {
                limits,
                scalar_hook: None
            }
        )
        .is_ok()
    );
    let mut block = String::new();
    for i in 0..10 {
        block.push_str(&format!("{}k{i}:\n", "  ".repeat(i)));
    }
    let err = errors(&block, limits);
    assert_eq!(err[0].kind, ErrorKind::TooDeep { limit: 8 });
    assert_eq!(err[0].span.line, 9);
    // The default depth stops a 100-deep flow text at level 65.
    let deep = format!("{}x{}", "[".repeat(100), "]".repeat(100));
    let err = errors(&deep, Limits::default());
    assert_eq!(err[0].kind, ErrorKind::TooDeep { limit: 64 });
    // saphyr's scanner reads ahead over flow openers and stops at 255 of them by itself.
    let deep = format!("{}x{}", "[".repeat(10_000), "]".repeat(10_000));
    let err = errors(&deep, Limits::default());
    assert_eq!(err.len(), 1);
    assert_eq!(
        err[0].kind,
        ErrorKind::Syntax("recursion limit exceeded".into())
    );
    assert_eq!(err[0].span.line, 1);
    let deep = "- ".repeat(10_000) + "x\n";
    let err = errors(&deep, Limits::default());
    assert_eq!(err[0].kind, ErrorKind::TooDeep { limit: 64 });
}

fn laughs(levels: usize) -> String {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..levels {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb
}

#[test]
fn values_after_alias_expansion_are_limited() {
    let err = errors(&laughs(12), Limits::default());
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].kind, ErrorKind::TooManyValues { limit: 100_000 });
    assert!(err[0].span.line >= 4, "{:?}", err[0]);
    // A few aliases stay well within the limit.
    assert!(load(&laughs(3), &Options::default()).is_ok());
}

#[test]
fn bytes_after_alias_expansion_are_limited_before_copying() {
    let big = "x".repeat(1 << 20);
    let mut text = format!("big: &b {big}\nuses:\n");
    for _ in 0..2_000 {
        text.push_str("  - *b\n");
    }
    let err = errors(&text, Limits::default());
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].kind, ErrorKind::TooManyBytes { limit: 16 << 20 });
    // The scalar, its anchored copy, the keys and 13 aliases fit in 16 MiB; the 14th does not.
    assert_eq!(err[0].span.line, 3 + 13);
    assert_eq!(err[0].pointer, "/uses/13");
    // Counted in bytes, not values: the same text with a small scalar loads.
    let small = text.replacen(&big, "x", 1);
    assert_eq!(one(&small).value["uses"].as_array().unwrap().len(), 2_000);
}

#[test]
fn documents_are_limited() {
    let limits = Limits {
        max_documents: 3,
        ..Limits::default()
    };
    let options = Options {
        limits,
        scalar_hook: None,
    };
    assert_eq!(load_all("a\n---\nb\n---\nc\n", &options).unwrap().len(), 3);
    let err = load_all("a\n---\nb\n---\nc\n---\nd\n", &options).unwrap_err();
    assert_eq!(err[0].kind, ErrorKind::TooManyDocuments { limit: 3 });
    assert_eq!(err[0].span.line, 6);
}

#[test]
fn problems_are_limited() {
    let mut text = String::new();
    for _ in 0..20 {
        text.push_str("a: 1\n");
    }
    let limits = Limits {
        max_errors: 5,
        ..Limits::default()
    };
    let err = errors(&text, limits);
    assert_eq!(err.len(), 6);
    assert_eq!(err[5].kind, ErrorKind::TooManyErrors { limit: 5 });
}

/// 142 KB of long keys nested 60 deep with many leaves at the bottom: a map from full pointer
/// strings to positions would hold about 1,100 pointers of 60 KB each (about 70 MB, and more
/// with every further leaf). The tree holds each key once.
#[test]
fn positions_of_deep_long_keys_stay_linear() {
    let key = "k".repeat(1_000);
    let mut text = String::new();
    for depth in 0..60 {
        text.push_str(&format!("{}{key}{depth}:\n", " ".repeat(depth)));
    }
    let mut leaves = 0;
    while text.len() < 142_000 {
        text.push_str(&format!("{}l{leaves}: 1\n", " ".repeat(60)));
        leaves += 1;
    }
    let d = one(&text);
    assert_eq!(d.positions.len(), 1 + 60 + leaves);
    let mut pointer = String::new();
    for depth in 0..60 {
        pointer.push_str(&format!("/{key}{depth}"));
    }
    let last = format!("{pointer}/l{}", leaves - 1);
    assert_eq!(d.positions[last.as_str()].value.line, 60 + leaves);
}

#[test]
fn errors_display_their_location() {
    let err = errors("a: 1\na: 2\n", Limits::default());
    assert_eq!(err[0].to_string(), "2:1 /a: duplicate key `a`");
    assert!(ErrorKind::TooDeep { limit: 1 }.is_limit());
    assert!(!ErrorKind::NonScalarKey.is_limit());
}
