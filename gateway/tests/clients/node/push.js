// One push with @parse/node-apn, as a provider would send it to APNs, here
// to pushca-gateway on loopback, certificate-based or token-based
// (`token: {key, keyId, teamId}`):
//   node push.js HOST PORT CA.pem cert CERT.pem KEY.pem TOKEN TOPIC PAYLOAD_JSON
//   node push.js HOST PORT CA.pem token AuthKey.p8 KEY_ID TEAM_ID TOKEN TOPIC PAYLOAD_JSON
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
  const [address, port, ca, kind, ...rest] = process.argv.slice(2);
  let credential;
  if (kind === 'cert') {
    const [cert, key] = rest.splice(0, 2);
    credential = { cert: fs.readFileSync(cert), key: fs.readFileSync(key) };
  } else if (kind === 'token') {
    const [key, keyId, teamId] = rest.splice(0, 3);
    credential = { token: { key: fs.readFileSync(key), keyId, teamId } };
  } else {
    throw new Error(`credential kind ${kind}: cert or token`);
  }
  const [token, topic, payload] = rest;
  const provider = new apn.Provider({
    ...credential,
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
