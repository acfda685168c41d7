//! Embedding the enforcement in a gateway: load the trust store once,
//! identify each provider connection once, authorize each push by lookups.
//!
//!   cargo run --example gateway -- TRUST_STORE_DIR ROOT.pem CHAIN.pem TOPIC development|production [UDID]

use pushca::gateway::{Anchor, Decision, Gateway};
use pushca::x509ext::Environment;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, root, chain_file, topic, env, rest @ ..] = args.as_slice() else {
        return Err("usage: gateway TRUST_STORE_DIR ROOT.pem CHAIN.pem TOPIC ENV [UDID]".into());
    };
    // The root comes from outside the directory it verifies (pinned).
    let anchor = Anchor::from_file(root)?;
    let gw = Gateway::load(dir, anchor)?; // verifies signature, hashes, profiles, freshness
    let env = Environment::from_name(env).ok_or("ENV is development or production")?;
    // What the TLS layer hands over: the client's chain, DER, leaf first.
    let chain = pushca::certfile::read_certificates(&std::fs::read(chain_file)?)?;
    let provider = match gw.identify(&chain) {
        Ok(id) => id, // cached by the leaf's fingerprint
        Err(denied) => {
            println!("connection refused: {denied}");
            return Ok(());
        }
    };
    match gw.authorize(&provider, topic, env, rest.first().map(String::as_str)) {
        Decision::Allow => println!("allow"),
        Decision::Deny(reason) => println!("deny: {reason}"),
    }
    Ok(())
}
