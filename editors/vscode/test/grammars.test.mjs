// The injection grammars, run by the same TextMate engine as VS Code
// (vscode-textmate + the Oniguruma WASM build), on lines of real plans.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import vsctm from "vscode-textmate";
import oniguruma from "vscode-oniguruma";

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const wasm = readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;
await oniguruma.loadWASM(wasm);

const files = {
  "source.herald.expression.injection": "herald-expression.injection.tmLanguage.json",
  "source.herald.jinja.injection": "herald-jinja.injection.tmLanguage.json",
};
const registry = new vsctm.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (sources) => new oniguruma.OnigScanner(sources),
    createOnigString: (s) => new oniguruma.OnigString(s),
  }),
  loadGrammar: async (scope) => {
    const f = files[scope];
    if (!f) return null;
    const path = join(here, "..", "syntaxes", f);
    return vsctm.parseRawGrammar(readFileSync(path, "utf8"), path);
  },
});

/** Scopes of each token of a line, as [text, innermost scope]. */
async function tokens(scope, line) {
  const grammar = await registry.loadGrammar(scope);
  const r = grammar.tokenizeLine(line, vsctm.INITIAL);
  return r.tokens.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]]);
}

function scopeOf(toks, text) {
  const t = toks.find(([s]) => s === text);
  assert.ok(t, `no token ${JSON.stringify(text)} in ${JSON.stringify(toks)}`);
  return t[1];
}

test("conditions after where/audience/if/until/exit_when are highlighted", async () => {
  const t = await tokens(
    "source.herald.expression.injection",
    '    audience: segment(vip) and not consent(email_marketing) or total_spent >= 1000',
  );
  assert.equal(scopeOf(t, "audience"), "entity.name.tag.yaml");
  assert.equal(scopeOf(t, "segment"), "support.function.herald");
  assert.equal(scopeOf(t, "and"), "keyword.operator.logical.herald");
  assert.equal(scopeOf(t, "not"), "keyword.operator.logical.herald");
  assert.equal(scopeOf(t, ">="), "keyword.operator.comparison.herald");
  assert.equal(scopeOf(t, "1000"), "constant.numeric.herald");
  assert.equal(scopeOf(t, "total_spent"), "variable.other.herald");

  const w = await tokens("source.herald.expression.injection", '  where: last_purchase_at within 30d and region == "IDF"');
  assert.equal(scopeOf(w, "30d"), "constant.numeric.duration.herald");
  assert.equal(scopeOf(w, "within"), "keyword.operator.word.herald");
  assert.equal(scopeOf(w, '"IDF"'), "string.quoted.double.herald");

  const e = await tokens("source.herald.expression.injection", "    trigger: { event: cart_abandoned, where: event.cart_value >= 30 }");
  assert.equal(scopeOf(e, "cart_value"), "variable.other.property.herald");

  const step = await tokens("source.herald.expression.injection", "        - if: consent(sms_marketing) and phone is set");
  assert.equal(scopeOf(step, "consent"), "support.function.herald");
  assert.equal(scopeOf(step, "set"), "keyword.operator.word.herald");
});

test("other keys are left to the YAML grammar", async () => {
  const t = await tokens("source.herald.expression.injection", "    description: segment and or not");
  assert.ok(t.every(([, s]) => s === "source.herald.expression.injection"), JSON.stringify(t));
});

test("Jinja in YAML strings and MJML templates", async () => {
  const t = await tokens(
    "source.herald.jinja.injection",
    "    subject: \"Bonjour {{ contact.first_name | default('') }} !\"",
  );
  assert.equal(scopeOf(t, "{{"), "punctuation.section.embedded.begin.jinja");
  assert.equal(scopeOf(t, "first_name"), "variable.other.property.jinja");
  assert.equal(scopeOf(t, "default"), "support.function.filter.jinja");
  assert.equal(scopeOf(t, "''"), "string.quoted.single.jinja");

  const s = await tokens("source.herald.jinja.injection", "<mj-text>{% if contact.orders > 0 %}Merci{% endif %}</mj-text>");
  assert.equal(scopeOf(s, "if"), "keyword.control.jinja");
  assert.equal(scopeOf(s, "endif"), "keyword.control.jinja");
});
