/**
 * On Node 20 the pinned SDK emits a multi-line NodeVersionSupportWarning once per process; from
 * cron that is a mail on every run. This file is its own process (vitest isolates test files),
 * so the SDK's once-per-process flag is fresh here and the test can see whether it would fire.
 */
import { afterAll, expect, it } from 'vitest';
import { validate } from '../../../shared/core/config/schema.js';
import { testContext } from '../../../test/helpers/context.js';
import { cloudwatchBilling } from '../index.js';
import { billingDataset, startFakeCloudWatch } from './fake-cloudwatch.mjs';
import { applyDefinitionEnv, setAwsEnv, staticKeysEnv } from './env.js';

const restore = setAwsEnv(staticKeysEnv());
const savedFlag = process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];
afterAll(() => {
  restore();
  if (savedFlag === undefined) delete process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];
  else process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] = savedFlag;
});

it('creates and uses the SDK client without the Node-version warning', async () => {
  delete process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'];
  const fake = await startFakeCloudWatch({ series: billingDataset({ services: ['AmazonEC2'], endSec: Math.floor(Date.now() / 1000), hours: 12 }) });
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const r = validate(cloudwatchBilling.schema, { endpoint: fake.url });
    if ('issues' in r) throw new Error(JSON.stringify(r.issues));
    const t = testContext({ prefix: 'aws.billing' });
    applyDefinitionEnv([r.value]);
    const integration = cloudwatchBilling.create(r.value, t.ctx);
    await integration.once();
    await integration.stop();
    expect(t.sink.datapoints().length).toBeGreaterThan(0);
    // process.emitWarning delivers on the next tick; let it through before looking.
    await new Promise((resolve) => setImmediate(resolve));
    expect(warnings.filter((w) => /NodeVersionSupportWarning/.test(w))).toEqual([]);
  } finally {
    process.off('warning', onWarning);
    await fake.close();
  }
});
