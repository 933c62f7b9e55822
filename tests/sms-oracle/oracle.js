// Reads JSON strings (one per line) on stdin, writes one JSON object per line:
// what Twilio's calculator says of each text. Used by tests/e2e/sms_oracle.rs.
'use strict';
const { SegmentedMessage } = require('sms-segments-calculator');
const readline = require('readline');

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
const out = [];
rl.on('line', (line) => {
  if (!line) return;
  const text = JSON.parse(line);
  const m = new SegmentedMessage(text, 'auto', false);
  const bitsPerUnit = m.getEncodingName() === 'GSM-7' ? 7 : 16;
  out.push(JSON.stringify({
    encoding: m.getEncodingName(),
    segments: m.segmentsCount,
    units: m.messageSize / bitsPerUnit,
    non_gsm: m.getNonGsmCharacters(),
  }));
});
rl.on('close', () => process.stdout.write(out.join('\n') + '\n'));
