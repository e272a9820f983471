// An app using the real OpenTelemetry X-Ray remote sampler for JavaScript
// (@opentelemetry/sampler-aws-xray's AWSXRayRemoteSampler), pointed at the collector's awsproxy
// extension: its own poller fetches the sampling rules (POST /GetSamplingRules) at start; this
// script waits until they are loaded, makes sampling decisions with them (which the sampler
// counts), then asks for targets through the sampler's own target poll (POST /SamplingTargets)
// instead of waiting its 10-second interval, and waits until the checkout rule carries them.
//
// Usage: node otel_remote_sampler_app.js PROXY_ENDPOINT   (e.g. http://127.0.0.1:2000)
// Prints one JSON object: {"rules": [...], "sampled": bool, "targets": {rule: {rate, quota}}}.

'use strict';

const { AWSXRayRemoteSampler } = require('@opentelemetry/sampler-aws-xray');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { ROOT_CONTEXT, SpanKind } = require('@opentelemetry/api');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const endpoint = process.argv[2];
  const sampler = new AWSXRayRemoteSampler({
    endpoint,
    pollingInterval: 10,
    resource: resourceFromAttributes({ 'service.name': 'checkout' }),
  });
  // The sampler behind the parent-based wrapper: its rule cache is what GetSamplingRules gave.
  const inner = sampler.internalXraySampler;
  const appliers = () => inner.ruleCache.ruleAppliers;
  let deadline = Date.now() + 20000;
  while (appliers().length === 0 && Date.now() < deadline) {
    await sleep(100);
  }
  if (appliers().length === 0) {
    console.log(JSON.stringify({ error: 'no sampling rules were fetched' }));
    process.exit(1);
  }
  const attributes = { 'http.method': 'GET', 'url.path': '/cart', 'server.address': 'shop' };
  let sampled = false;
  for (let i = 0; i < 5; i += 1) {
    const traceId = (i + 1).toString(16).padStart(32, '0');
    const result = sampler.shouldSample(ROOT_CONTEXT, traceId, 'GET /cart', SpanKind.SERVER, attributes, []);
    sampled = sampled || result.decision !== 0;
  }
  const rule = () => appliers().find((a) => a.samplingRule.RuleName === 'checkout-rule');
  inner.getAndUpdateSamplingTargets();
  deadline = Date.now() + 20000;
  while (rule() && rule().borrowingEnabled && Date.now() < deadline) {
    await sleep(100);
  }
  inner.stopPollers();
  const targets = {};
  for (const applier of appliers()) {
    if (!applier.borrowingEnabled) {
      targets[applier.samplingRule.RuleName] = {
        rate: applier.fixedRateSampler._ratio,
        quota: applier.reservoirSampler.quota,
      };
    }
  }
  console.log(
    JSON.stringify({
      rules: appliers().map((a) => a.samplingRule.RuleName).sort(),
      sampled,
      targets,
    })
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
