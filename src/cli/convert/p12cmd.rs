//! `p12 export` and `p12 to-pem`.

use pushca::certfile;
use pushca::fsutil::{self, MODE_PUBLIC, MODE_SECRET};
use pushca::pkcs12::{self, CertEntry, KeyEntry, Pkcs12Contents, Profile};

use super::common::{
    cert_error, cert_json, expiry_warning, open_cert_and_matching_key, open_p12, summary,
};
use super::{P12ExportArgs, P12ToPemArgs};
use crate::cli::{secrets, CliError, Ctx, Report};

pub(super) fn export(ctx: &Ctx, a: P12ExportArgs) -> Result<Report, CliError> {
    let (certs, key) = open_cert_and_matching_key(&a.cert, &a.key, a.passin.as_ref())?;
    let (leaf, extra) = certs
        .split_first()
        .ok_or_else(|| CliError::new("input", format!("{}: no certificate", a.cert.display())))?;
    let mut chain: Vec<Vec<u8>> = Vec::new();
    if a.chain {
        let chain_file = ctx.home()?.ca_dir().join("chain.pem");
        if chain_file.is_file() {
            let bytes = fsutil::read_input(&chain_file)?;
            chain = certfile::read_certificates(&bytes).map_err(|e| cert_error(&chain_file, e))?;
        } else if !extra.is_empty() {
            chain = extra.to_vec();
        } else {
            return Err(CliError::new(
                "input",
                format!(
                    "--chain: no CA certificates: {} does not exist and {} holds only one certificate",
                    chain_file.display(),
                    a.cert.display()
                ),
            )
            .with_hint("run `pushca init`, pass --home, or append the CA certificates to the --cert file"));
        }
    }
    let leaf_summary = summary(leaf)?;
    let name = a.name.clone().or_else(|| leaf_summary.common_name.clone());
    let id = pkcs12::local_key_id(leaf);
    let mut contents = Pkcs12Contents::default();
    contents.certs.push(CertEntry {
        der: leaf.clone(),
        friendly_name: name.clone(),
        local_key_id: Some(id.clone()),
    });
    for c in chain.iter().filter(|c| *c != leaf) {
        contents.certs.push(CertEntry {
            der: c.clone(),
            friendly_name: None,
            local_key_id: None,
        });
    }
    contents.keys.push(KeyEntry {
        key,
        friendly_name: name.clone(),
        local_key_id: Some(id),
    });
    let (profile, pass) = if a.protection.noenc {
        (Profile::Unencrypted, None)
    } else {
        let p = secrets::from_flag_or_prompt(
            a.protection.passout.as_ref(),
            "password for the .p12",
            "--passout",
            true,
        )?;
        (
            if a.legacy {
                Profile::Legacy
            } else {
                Profile::Modern
            },
            Some(p),
        )
    };
    let der = pkcs12::write_pkcs12(&contents, pass.as_ref(), profile)?;
    fsutil::write_atomic(&a.out, &der, MODE_SECRET)?;
    let profile_name = match profile {
        Profile::Modern => "modern",
        Profile::Legacy => "legacy",
        Profile::Unencrypted => "none",
    };
    let n = contents.certs.len();
    let mut doc = cert_json(&a.out, n, true, !a.protection.noenc, Some(&leaf_summary));
    doc["profile"] = profile_name.into();
    doc["friendly_name"] = name.into();
    let text = format!(
        "wrote {} ({} certificate{}, key, {})",
        a.out.display(),
        n,
        if n == 1 { "" } else { "s" },
        match profile {
            Profile::Modern => "AES-256, HMAC-SHA256",
            Profile::Legacy => "legacy 3DES/RC2-40, SHA-1 MAC",
            Profile::Unencrypted => "unencrypted",
        }
    );
    let mut report = Report::new(doc, text);
    if let Some(w) = expiry_warning(&leaf_summary, &a.cert.display().to_string()) {
        report = report.warn(w);
    }
    Ok(report)
}

pub(super) fn to_pem(a: P12ToPemArgs) -> Result<Report, CliError> {
    let contents = open_p12(&a.input, a.passin.as_ref())?;
    let leaf = contents.leaf_index();
    let mut certs: Vec<&[u8]> = Vec::new();
    if !a.nocerts {
        if !a.cacerts {
            if let Some(c) = leaf.and_then(|i| contents.certs.get(i)) {
                certs.push(&c.der);
            } else if !a.clcerts {
                // No identifiable leaf: every certificate is written below.
            }
        }
        if !a.clcerts {
            for (i, c) in contents.certs.iter().enumerate() {
                if Some(i) != leaf {
                    certs.push(&c.der);
                }
            }
        }
    }
    let key = if a.nokeys { None } else { contents.key() };
    let mut out = zeroize::Zeroizing::new(String::new());
    for c in &certs {
        out.push_str(&pushca::pem::encode("CERTIFICATE", c));
    }
    let mut encrypted = false;
    if let Some(k) = key {
        if a.noenc {
            out.push_str(&k.key.to_pkcs8_pem());
        } else {
            let pass = secrets::from_flag_or_prompt(
                a.passout.as_ref(),
                "passphrase for the written key",
                "--passout",
                true,
            )
            .map_err(|e| e.with_hint("pass --passout SRC, or --noenc for an unencrypted key"))?;
            out.push_str(&k.key.to_encrypted_pkcs8_pem(&pass)?);
            encrypted = true;
        }
    }
    let mode = if key.is_some() {
        MODE_SECRET
    } else {
        MODE_PUBLIC
    };
    fsutil::write_atomic(&a.out, out.as_bytes(), mode)?;
    let leaf_summary = match leaf.and_then(|i| contents.certs.get(i)) {
        Some(c) => Some(summary(&c.der)?),
        None => None,
    };
    let doc = cert_json(
        &a.out,
        certs.len(),
        key.is_some(),
        encrypted,
        leaf_summary.as_ref(),
    );
    let text = format!(
        "wrote {} ({} certificate{}{})",
        a.out.display(),
        certs.len(),
        if certs.len() == 1 { "" } else { "s" },
        match (key.is_some(), encrypted) {
            (false, _) => "",
            (true, true) => ", encrypted key",
            (true, false) => ", unencrypted key",
        }
    );
    let mut report = Report::new(doc, text);
    if certs.is_empty() && key.is_none() {
        report = report.warn(format!(
            "nothing matched the selection: {} is empty",
            a.out.display()
        ));
    }
    Ok(report)
}
