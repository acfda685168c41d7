// One push with @parse/node-apn, token-based (`token: {key, keyId, teamId}`),
// to pushca-gateway on loopback.
//   node push_token.js HOST PORT CA.pem AuthKey.p8 KEY_ID TEAM_ID TOKEN TOPIC PAYLOAD_JSON
// PAYLOAD_JSON is parsed and set as rawPayload: node-apn sends
// JSON.stringify of it. Prints one JSON line: {"sent":[...],"failed":[...]}.
'use strict';
let apn;
try {
  apn = require('@parse/node-apn');
} catch (e) {
  console.error('@parse/node-apn is not installed: run scripts/test --install-only');
  process.exit(2);
}
const fs = require('fs');

async function main() {
  const [address, port, ca, key, keyId, teamId, token, topic, payload] = process.argv.slice(2);
  const provider = new apn.Provider({
    token: { key: fs.readFileSync(key), keyId, teamId },
    ca: fs.readFileSync(ca),
    address,
    port: Number(port),
    production: false,
    connectionRetryLimit: 1,
    requestTimeout: 5000,
  });
  const note = new apn.Notification();
  note.topic = topic;
  note.pushType = 'alert';
  note.rawPayload = JSON.parse(payload);
  const result = await provider.send(note, token);
  process.stdout.write(JSON.stringify(result) + '\n');
  await provider.shutdown();
}

main().then(
  () => process.exit(0),
  e => {
    console.error(String(e && e.stack ? e.stack : e));
    process.exit(1);
  }
);
