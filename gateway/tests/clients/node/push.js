// One push with @parse/node-apn (certificate-based), as a provider would
// send it to APNs, here to pushca-gateway on loopback.
//   node push.js HOST PORT CA.pem CERT.pem KEY.pem TOKEN TOPIC PAYLOAD_JSON
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
  const [address, port, ca, cert, key, token, topic, payload] = process.argv.slice(2);
  const provider = new apn.Provider({
    cert: fs.readFileSync(cert),
    key: fs.readFileSync(key),
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
