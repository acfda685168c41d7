//! README's "JSON documents" table is the contract of `--json`: this test
//! parses it (the `| command | document |` rows and the TEAM/APP/CERT/DEVICE/
//! PROFILE/KEY bullets), runs every documented command, and checks that each
//! document has exactly the README's top-level keys (none missing, none
//! extra) and that embedded records have exactly their bullet's keys.

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use common::{stderr, stdout_json, Env, CA_PASS};

type Keys = BTreeSet<String>;

/// One README row's document for one command: its alternatives (`{…} or
/// {…}`), each a set of keys, the optional key groups (`(+ "a", "b" …)`),
/// and the keys whose value is a record (`"team": TEAM`, `[PROFILE + "out"]`).
#[derive(Debug, Default, Clone)]
struct Doc {
    alternatives: Vec<Keys>,
    optional: Vec<Keys>,
    records: BTreeMap<String, (String, Keys)>,
}

/// The README's JSON section: each command's document and each record's keys.
struct Contract {
    docs: BTreeMap<String, Doc>,
    records: BTreeMap<String, Keys>,
}

const RECORDS: [&str; 6] = ["TEAM", "APP", "CERT", "DEVICE", "PROFILE", "KEY"];

/// Splits `s` at `sep` where no bracket, brace or parenthesis is open.
fn split_top<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' | b'(' => depth += 1,
            b'}' | b']' | b')' => depth -= 1,
            _ if depth == 0 && s[i..].starts_with(sep) => {
                out.push(&s[start..i]);
                i += sep.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

fn quoted(s: &str) -> Vec<String> {
    s.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The keys of one `{…}` object text, and its record-valued keys.
fn object(text: &str) -> (Keys, BTreeMap<String, (String, Keys)>) {
    let inner = text.trim().trim_start_matches('{').trim_end_matches('}');
    let (mut keys, mut records) = (Keys::new(), BTreeMap::new());
    for member in split_top(inner, ",") {
        let member = member.trim();
        let Some(key) = quoted(member).into_iter().next() else {
            continue;
        };
        assert!(member.starts_with('"'), "not a key: {member:?}");
        keys.insert(key.clone());
        let value = split_top(member, ":")
            .get(1)
            .map(|v| v.trim())
            .unwrap_or("");
        if let Some(rec) = RECORDS.iter().find(|r| {
            value
                .trim_start_matches('[')
                .split(|c: char| !c.is_ascii_uppercase())
                .next()
                == Some(**r)
        }) {
            // `PROFILE + "out", "supersedes": old UUID, …`: the extra keys.
            let extra = quoted(value).into_iter().collect();
            records.insert(key, (rec.to_string(), extra));
        }
    }
    (keys, records)
}

/// A document cell: `{…}`, `{…} or {…}`, `{…}; with --x: {…}`, each
/// followed by notes and optional groups `(+ "a", "b" …)`.
fn doc(cell: &str) -> Doc {
    let mut d = Doc::default();
    let mut depth = 0;
    let mut start = None;
    let chars: Vec<(usize, char)> = cell.char_indices().collect();
    for (n, &(i, c)) in chars.iter().enumerate() {
        match c {
            '{' | '[' | '(' => {
                if depth == 0 {
                    start = Some((i, c));
                }
                depth += 1;
            }
            '}' | ']' | ')' => {
                depth -= 1;
                if depth == 0 {
                    let Some((s, open)) = start.take() else {
                        continue;
                    };
                    let text = &cell[s..=i];
                    if open == '{' {
                        let (keys, records) = object(text);
                        d.alternatives.push(keys);
                        d.records.extend(records);
                    } else if open == '(' && text.starts_with("(+") {
                        let (keys, records) = object(&format!("{{{}}}", &text[2..text.len() - 1]));
                        d.optional.push(keys);
                        d.records.extend(records);
                    }
                    let _ = n;
                }
            }
            _ => {}
        }
    }
    d
}

fn contract() -> Contract {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = readme
        .split("### JSON documents")
        .nth(1)
        .expect("README has a JSON documents section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let mut docs = BTreeMap::new();
    let mut records = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<String> = {
            let line = line.replace("\\|", "\u{1}");
            line.split('|')
                .map(|c| c.trim().replace('\u{1}', "|"))
                .collect()
        };
        if cells.len() == 4 && cells[1].starts_with('`') && cells[2].contains('{') {
            let given: Vec<String> = cells[1]
                .split(" / ")
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            // `app disable` / `enable`: the group is shared.
            let group = given[0].split(' ').next().unwrap_or_default().to_string();
            let commands: Vec<String> = given
                .iter()
                .map(|c| {
                    if c.contains(' ') || given.iter().all(|c| !c.contains(' ')) {
                        c.clone()
                    } else {
                        format!("{group} {c}")
                    }
                })
                .collect();
            let cell = cells[2].replace('`', "");
            // `a` / `b` with `{…}` / `{…}`: one document each; one command
            // (or one document): every document is an alternative of each.
            let per = split_top(&cell, " / ");
            if commands.len() == 1 || per.len() == 1 {
                for c in &commands {
                    docs.insert(c.clone(), doc(&cell));
                }
            } else {
                assert_eq!(per.len(), commands.len(), "README row {}", cells[1]);
                for (c, text) in commands.iter().zip(per) {
                    docs.insert(c.clone(), doc(text.trim()));
                }
            }
        }
    }
    // The record bullets (they may wrap): `- TEAM: `{…}``.
    let bullets = section.replace("\n  ", " ");
    for line in bullets.lines() {
        for r in RECORDS {
            if let Some(rest) = line.strip_prefix(&format!("- {r}: ")) {
                let (keys, _) = object(&rest.replace('`', ""));
                records.insert(r.to_string(), keys);
            }
        }
    }
    assert_eq!(
        records.len(),
        RECORDS.len(),
        "every record bullet: {records:?}"
    );
    Contract { docs, records }
}

fn keys_of(v: &serde_json::Value) -> Keys {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

impl Contract {
    /// Checks a `--json` document of `command` (with the optional groups
    /// `optional` of its row, by index) against the README.
    fn check(&self, command: &str, optional: &[usize], doc: &serde_json::Value) {
        let d = self
            .docs
            .get(command)
            .unwrap_or_else(|| panic!("README documents no `{command}`"));
        let mut extra = Keys::new();
        for i in optional {
            extra.extend(d.optional[*i].iter().cloned());
        }
        // `warnings` is added to any document when there are some.
        let mut got = keys_of(doc);
        if got.remove("warnings") {
            assert!(
                doc["warnings"]
                    .as_array()
                    .is_some_and(|w| !w.is_empty() && w.iter().all(|w| w.is_string())),
                "`{command}`: warnings {doc}"
            );
        }
        let alts: Vec<Keys> = d
            .alternatives
            .iter()
            .map(|a| a.union(&extra).cloned().collect())
            .collect();
        assert!(
            alts.contains(&got),
            "`{command}`: the document's keys {got:?} are none of README's {alts:?}\n{doc}"
        );
        for (key, (record, plus)) in &d.records {
            let Some(v) = doc.get(key) else { continue };
            let items: Vec<&serde_json::Value> = match v {
                serde_json::Value::Array(a) => a.iter().collect(),
                serde_json::Value::Null => continue,
                v => vec![v],
            };
            let want: Keys = self.records[record].union(plus).cloned().collect();
            for item in items {
                assert_eq!(
                    keys_of(item),
                    want,
                    "`{command}`: {key} is a {record}: {item}"
                );
            }
        }
    }
}

/// Every row of README's table, run and checked (the wizard's document is
/// checked by the wizard's own test, on a terminal).
#[test]
fn every_command_prints_the_json_document_readme_documents() {
    let c = contract();
    let env = Env::new();
    let pw = format!("pass:{CA_PASS}");
    let mut seen = BTreeSet::new();
    let run_code = |args: &[&str], code: i32| -> serde_json::Value {
        let o = env
            .cmd()
            .arg("--json")
            .args(args)
            .env("PUSHCA_CA_PASSPHRASE", CA_PASS)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        stdout_json(&o)
    };
    let run = |args: &[&str]| run_code(args, 0);
    let mut check = |command: &str, optional: &[usize], doc: serde_json::Value| {
        c.check(command, optional, &doc);
        seen.insert(command.to_string());
        doc
    };
    check(
        "init",
        &[],
        run(&["init", "--team-name", "Json Corp", "--ca-passin", &pw]),
    );
    check("team create", &[], run(&["team", "create", "Other"]));
    check("team list", &[], run(&["team", "list"]));
    check(
        "app create",
        &[],
        run(&["app", "create", "com.example.json", "--push"]),
    );
    check("app list", &[], run(&["app", "list"]));
    check(
        "app set",
        &[],
        run(&["app", "set", "com.example.json", "--name", "J"]),
    );
    check(
        "app disable",
        &[],
        run(&["app", "disable", "com.example.json"]),
    );
    check(
        "app enable",
        &[],
        run(&["app", "enable", "com.example.json"]),
    );
    check(
        "csr new",
        &[],
        run(&[
            "csr",
            "new",
            "--key-out",
            "a.key",
            "--out",
            "a.csr",
            "--noenc",
        ]),
    );
    let issue = |out: &str| {
        run(&[
            "cert",
            "issue",
            "--app",
            "com.example.json",
            "--env",
            "production",
            "--csr",
            "a.csr",
            "--out",
            out,
        ])
    };
    let d = check("cert issue", &[], issue("a.pem"));
    let serial = d["certificates"][0]["serial"].as_str().unwrap().to_string();
    check("app show", &[], run(&["app", "show", "com.example.json"]));
    check("cert list", &[], run(&["cert", "list"]));
    check(
        "cert list",
        &[0],
        run_code(&["cert", "list", "--expiring-within", "1000"], 4),
    );
    check("cert show", &[], run(&["cert", "show", "a.pem"]));
    check("cert show", &[0], run(&["cert", "show", &serial]));
    check("cert show", &[1], run(&["cert", "show", "a.pem", "--pem"]));
    check(
        "cert export",
        &[],
        run(&["cert", "export", &serial, "--out", "b.pem"]),
    );
    let renew = |within: &str| {
        run(&[
            "cert",
            "renew",
            "--app",
            "com.example.json",
            "--env",
            "production",
            "--csr",
            "a.csr",
            "--out",
            "r.pem",
            "--within",
            within,
        ])
    };
    assert_eq!(check("cert renew", &[], renew("30"))["renewed"], false);
    assert_eq!(check("cert renew", &[], renew("1000"))["renewed"], true);
    let create = |renew_within: &[&str]| {
        let mut args = vec![
            "cert",
            "create",
            "--app",
            "com.example.json",
            "--env",
            "development",
            "--out-dir",
            "cc",
            "--noenc",
            "--force",
        ];
        args.extend(renew_within);
        run(&args)
    };
    assert_eq!(check("cert create", &[], create(&[]))["renewed"], true);
    assert_eq!(
        check("cert create", &[], create(&["--renew-within", "30"]))["renewed"],
        false
    );
    check(
        "p12 export",
        &[],
        run(&[
            "p12", "export", "--cert", "a.pem", "--key", "a.key", "--out", "a.p12", "--noenc",
        ]),
    );
    check(
        "p12 to-pem",
        &[],
        run(&[
            "p12", "to-pem", "--in", "a.p12", "--passin", "pass:", "--out", "all.pem", "--noenc",
        ]),
    );
    check(
        "pem ck",
        &[],
        run(&[
            "pem", "ck", "--in", "a.p12", "--passin", "pass:", "--out", "ck.pem",
        ]),
    );
    check(
        "pem merge",
        &[],
        run(&["pem", "merge", "a.pem", "a.key", "--out", "ck2.pem"]),
    );
    check(
        "key decrypt",
        &[],
        run(&["key", "decrypt", "--in", "a.key", "--out", "d.key"]),
    );
    let made = check(
        "key create",
        &[],
        run(&[
            "key",
            "create",
            "--env",
            "production",
            "--app",
            "com.example.json",
            "--out-dir",
            "keys",
        ]),
    );
    let key_id = made["key"]["key_id"].as_str().unwrap().to_string();
    check("key list", &[], run(&["key", "list"]));
    check("key show", &[], run(&["key", "show", &key_id]));
    check("key revoke", &[], run(&["key", "revoke", &key_id]));
    let udid = "00008030-001A0C3E0E68802E";
    check(
        "device add",
        &[],
        run(&["device", "add", udid, "--name", "D"]),
    );
    check("device list", &[], run(&["device", "list"]));
    check("device disable", &[], run(&["device", "disable", udid]));
    check("device enable", &[], run(&["device", "enable", udid]));
    check(
        "device identity",
        &[],
        run(&["device", "identity", udid, "--out-dir", "dev", "--noenc"]),
    );
    check(
        "server-cert",
        &[],
        run(&[
            "server-cert",
            "--dns",
            "gw.example.test",
            "--ip",
            "::1",
            "--out-dir",
            "srv",
            "--noenc",
        ]),
    );
    let created = check(
        "profile create",
        &[],
        run(&[
            "profile",
            "create",
            "--app",
            "com.example.json",
            "--env",
            "production",
            "--all-devices",
            "--out",
            "p.mobileprovision",
        ]),
    );
    let uuid = created["profile"]["uuid"].as_str().unwrap().to_string();
    check("profile list", &[], run(&["profile", "list"]));
    check(
        "profile export",
        &[],
        run(&["profile", "export", &uuid, "--out", "e.mobileprovision"]),
    );
    check(
        "profile show",
        &[],
        run(&["profile", "show", "p.mobileprovision"]),
    );
    let regenerated = check(
        "profile regenerate",
        &[],
        run(&["profile", "regenerate", &uuid, "--out-dir", "regen"]),
    );
    let current = regenerated["profiles"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    check("status", &[], run(&["status"]));
    check(
        "cert revoke",
        &[],
        run(&["cert", "revoke", &serial, "--reason", "superseded"]),
    );
    check("crl", &[], run(&["crl", "--out", "x.crl"]));
    check("crl", &[0], run(&["crl"]));
    check(
        "gateway trust-store",
        &[],
        run(&["gateway", "trust-store", "--out", "ts"]),
    );
    let gw = [
        "gateway",
        "check",
        "--trust-store",
        "ts",
        "--env",
        "production",
    ];
    let revoked = [&gw[..], &["--cert", "a.pem", "--topic", "com.example.json"]].concat();
    check("gateway check", &[], run_code(&revoked, 3));
    let register = [
        &gw[..],
        &["--register", "com.example.json", "--device", udid],
    ]
    .concat();
    let d = run_code(&register, 0);
    assert_eq!(d["registration"], true);
    check("gateway check", &[], d);
    check("completions", &[], run(&["completions", "bash"]));
    check("man", &[], run(&["man"]));
    check("man", &[], run(&["man", "--out-dir", "man"]));
    check(
        "profile withdraw",
        &[],
        run(&["profile", "withdraw", &current]),
    );
    // Every row is run (the wizard needs a terminal: its own test checks it).
    let documented: BTreeSet<String> = c.docs.keys().cloned().collect();
    let missing: Vec<_> = documented
        .difference(&seen)
        .filter(|c| *c != "wizard")
        .collect();
    assert!(missing.is_empty(), "README rows not run: {missing:?}");
}

#[test]
fn the_readme_parser_reads_alternatives_optional_groups_and_records() {
    let d = doc(
        r#"{"renewed": true, "a" (x, y), "b": [CERT, …]} or {"renewed": false, "c"} (+ "d", "e": null)"#,
    );
    let k = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Keys>();
    assert_eq!(
        d.alternatives,
        vec![k(&["renewed", "a", "b"]), k(&["renewed", "c"])]
    );
    assert_eq!(d.optional, vec![k(&["d", "e"])]);
    assert_eq!(d.records["b"], ("CERT".to_string(), Keys::new()));
    let d =
        doc(r#"{"profiles": [PROFILE + "out", "supersedes": old UUID, …], "skipped": [{"uuid"}]}"#);
    assert_eq!(d.alternatives, vec![k(&["profiles", "skipped"])]);
    assert_eq!(
        d.records["profiles"],
        ("PROFILE".to_string(), k(&["out", "supersedes"]))
    );
    let c = contract();
    assert!(c.docs.contains_key("app enable") && c.docs.contains_key("pem merge"));
    assert_eq!(
        c.records["TEAM"],
        k(&["team_id", "name", "is_default", "created_at"])
    );
}
