// An HTTP-level fake of the CloudWatch API, for the real @aws-sdk/client-cloudwatch to talk to
// through its `endpoint` override. Plain ESM JavaScript (typed by fake-cloudwatch.d.mts) so that
// both the vitest suite and bench/cloudwatch_billing.mjs (plain node, no TypeScript) can load it.
//
// It speaks what the pinned SDK (3.1164.0) sends: AWS JSON 1.0 with the query-compatibility
// mode (POST /, content-type application/x-amz-json-1.0, X-Amz-Target
// GraniteServiceVersion20100801.<Op>, x-amzn-query-mode: true, epoch-second timestamps).
// Anything else (the form-encoded awsQuery of SDKs <= 3.948) gets a 400 that names the
// mismatch, so a protocol change in an SDK upgrade fails loudly here instead of "working".
//
// It verifies SigV4 (scope <date>/us-east-1/monitoring/aws4_request) against the credentials it
// was given, which is how the tests prove that the client signs for us-east-1 whatever
// AWS_REGION says, and answers auth failures in the shapes AWS uses.
import { createHash, createHmac } from 'node:crypto';
import { createServer } from 'node:http';

const TARGET_PREFIX = 'GraniteServiceVersion20100801.';
const JSON_TYPE = 'application/x-amz-json-1.0';

/** Query-compatible error: the SDK takes the code from x-amzn-query-error, like real CloudWatch. */
function sendError(res, status, code, message, fault = status >= 500 ? 'Receiver' : 'Sender') {
  const body = JSON.stringify({ __type: `com.amazonaws.cloudwatch#${code}`, message });
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'x-amzn-requestid': 'fake-' + Math.random().toString(16).slice(2),
    'x-amzn-query-error': `${code};${fault}`,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function sendJson(res, obj) {
  // NaN/Infinity are not JSON; CloudWatch's JSON protocol carries them as strings.
  const body = JSON.stringify(obj, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));
  res.writeHead(200, {
    'content-type': JSON_TYPE,
    'x-amzn-requestid': 'fake-' + Math.random().toString(16).slice(2),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const sha256hex = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();

/** Returns undefined when the signature is valid, else [status, code, message]. */
function checkSignature(req, body, credentials, nowMs) {
  const auth = req.headers['authorization'];
  if (typeof auth !== 'string') return [400, 'MissingAuthenticationToken', 'Request is missing Authentication Token'];
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return [400, 'IncompleteSignature', 'Authorization header is not a SigV4 header'];
  const [, keyId, date, region, service, signedHeaders, signature] = m;
  const cred = credentials[keyId];
  if (!cred) return [403, 'InvalidClientTokenId', 'The security token included in the request is invalid.'];
  if (region !== 'us-east-1' || service !== 'monitoring') {
    return [403, 'SignatureDoesNotMatch', `Credential should be scoped to a valid region (us-east-1/monitoring), not ${region}/${service}.`];
  }
  if (cred.sessionToken !== undefined && req.headers['x-amz-security-token'] !== cred.sessionToken) {
    return [403, 'InvalidClientTokenId', 'The security token included in the request is invalid.'];
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signedMs = Date.parse(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  if (!Number.isFinite(signedMs) || Math.abs(signedMs - nowMs) > 5 * 60_000) {
    return [403, 'SignatureDoesNotMatch', 'Signature expired: the request time is more than 5 minutes off the server time.'];
  }
  const names = signedHeaders.split(';');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [req.method, req.url?.split('?')[0] ?? '/', '', canonicalHeaders, signedHeaders, sha256hex(body)].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac('AWS4' + cred.secretAccessKey, date), region), service), 'aws4_request');
  if (hmac(key, toSign).toString('hex') !== signature) {
    return [403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.'];
  }
  if (cred.expired) return [403, 'ExpiredToken', 'The security token included in the request is expired'];
  return undefined;
}

const dimsKey = (dims) =>
  [...(dims ?? [])]
    .sort((a, b) => (a.Name < b.Name ? -1 : 1))
    .map((d) => `${d.Name}=${d.Value}`)
    .join(',');

/**
 * A month-to-date dataset in the shape AWS publishes: one EstimatedCharges series per dimension
 * combination, a point every `everyHours` hours, growing by the series' hourly rate and reset
 * to 0 at the start of each UTC month.
 */
export function billingDataset({ services, accounts = [], endSec, hours = 72, everyHours = 6, currency = 'USD', rate = () => 1 }) {
  const series = [];
  const scopes = [undefined, ...accounts];
  for (const account of scopes) {
    for (const service of [undefined, ...services]) {
      const dimensions = [{ Name: 'Currency', Value: currency }];
      if (service !== undefined) dimensions.push({ Name: 'ServiceName', Value: service });
      if (account !== undefined) dimensions.push({ Name: 'LinkedAccount', Value: account });
      const perHour = service === undefined ? services.reduce((s, sv) => s + rate(sv, account), 0) : rate(service, account);
      const points = [];
      const first = endSec - hours * 3600;
      for (let t = first - (first % (everyHours * 3600)); t < endSec; t += everyHours * 3600) {
        if (t < first) continue;
        const d = new Date(t * 1000);
        const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
        // Published a few minutes after the hour, like the real feed.
        points.push([t + 420, Math.round(perHour * ((t - monthStart) / 3600) * 100) / 100]);
      }
      series.push({ dimensions, points });
    }
  }
  return series;
}

/**
 * Starts the fake on 127.0.0.1:0. `state` fields can be changed between requests by the test.
 */
export async function startFakeCloudWatch(options = {}) {
  const state = {
    credentials: options.credentials ?? { AKIDFAKE: { secretAccessKey: 'fake-secret' } },
    series: options.series ?? [],
    listPageSize: options.listPageSize ?? 500,
    /** Datapoints per GetMetricData page before PartialData + NextToken (AWS: 100,800). */
    maxDatapointsPerPage: options.maxDatapointsPerPage ?? 100_800,
    /** Faults consumed one per matching request: { op?: 'ListMetrics'|..., kind } */
    faults: [],
    /** Per-series result StatusCode overrides, by dimension key ("Currency=USD,ServiceName=AmazonEC2"). */
    resultStatus: {},
    /** The fake's clock: signatures more than 5 minutes off it are rejected, and it is sent as `Date`. */
    now: options.now ?? (() => Date.now()),
  };
  const requests = [];
  const calls = { ListMetrics: 0, GetMetricData: 0, GetMetricStatistics: 0 };
  const stats = { metricsRequested: 0, datapointsReturned: 0 };
  const hung = new Set();

  const takeFault = (op) => {
    const i = state.faults.findIndex((f) => f.op === undefined || f.op === op);
    return i < 0 ? undefined : state.faults.splice(i, 1)[0];
  };

  const findSeries = (metric) => {
    if (metric?.Namespace !== 'AWS/Billing' || metric?.MetricName !== 'EstimatedCharges') return undefined;
    const key = dimsKey(metric.Dimensions);
    return state.series.find((s) => dimsKey(s.dimensions) === key);
  };

  /** Maximum per period bucket; buckets start at StartTime rounded down to the minute. */
  const aggregate = (series, startSec, endSec, period, stat) => {
    const origin = startSec - (startSec % 60);
    const buckets = new Map();
    for (const [t, v] of series?.points ?? []) {
      if (t < origin || t >= endSec) continue;
      const b = origin + Math.floor((t - origin) / period) * period;
      const cur = buckets.get(b);
      if (stat === 'Maximum') buckets.set(b, cur === undefined || v > cur || Number.isNaN(v) ? v : cur);
      else if (stat === 'Minimum') buckets.set(b, cur === undefined || v < cur ? v : cur);
      else buckets.set(b, v); // the fake only needs Maximum; anything else: last value
    }
    return [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  };

  const listMetrics = (input, res) => {
    let matching = state.series.filter((s) => {
      if (input.Namespace !== undefined && input.Namespace !== 'AWS/Billing') return false;
      if (input.MetricName !== undefined && input.MetricName !== 'EstimatedCharges') return false;
      for (const f of input.Dimensions ?? []) {
        const d = s.dimensions.find((x) => x.Name === f.Name);
        if (!d || (f.Value !== undefined && d.Value !== f.Value)) return false;
      }
      return true;
    });
    if (input.RecentlyActive !== undefined) {
      const cutoff = state.now() / 1000 - 3 * 3600;
      matching = matching.filter((s) => s.points.some(([t]) => t >= cutoff));
    }
    const start = input.NextToken === undefined ? 0 : Number(String(input.NextToken).replace(/^lm-/, ''));
    if (!Number.isInteger(start) || start < 0 || start > matching.length) {
      return sendError(res, 400, 'InvalidNextToken', 'The service returned an invalid NextToken.');
    }
    const page = matching.slice(start, start + state.listPageSize);
    const out = {
      Metrics: page.map((s) => ({ Namespace: 'AWS/Billing', MetricName: 'EstimatedCharges', Dimensions: s.dimensions })),
    };
    if (start + page.length < matching.length) out.NextToken = `lm-${start + page.length}`;
    sendJson(res, out);
  };

  const getMetricData = (input, res) => {
    const queries = input.MetricDataQueries ?? [];
    if (queries.length === 0 || queries.length > 500) {
      return sendError(res, 400, 'InvalidParameterValue', `The collection MetricDataQueries must not have a size greater than 500 (got ${queries.length}).`);
    }
    const ids = new Set();
    for (const q of queries) {
      if (!/^[a-z][a-zA-Z0-9_]*$/.test(q.Id ?? '')) return sendError(res, 400, 'InvalidParameterValue', `Invalid metric Id: ${q.Id}`);
      if (ids.has(q.Id)) return sendError(res, 400, 'InvalidParameterValue', `Duplicate metric Id: ${q.Id}`);
      ids.add(q.Id);
      if (!q.MetricStat) return sendError(res, 400, 'InvalidParameterValue', 'The fake supports MetricStat queries only.');
    }
    const startSec = Number(input.StartTime);
    const endSec = Number(input.EndTime);
    if (!(endSec > startSec)) return sendError(res, 400, 'InvalidParameterValue', 'The parameter StartTime must be less than the parameter EndTime.');
    // A page cursor over (query index, datapoint index), like AWS's opaque NextToken.
    let qi = 0;
    let pi = 0;
    if (input.NextToken !== undefined) {
      const m = /^gmd-(\d+)-(\d+)$/.exec(String(input.NextToken));
      if (!m) return sendError(res, 400, 'InvalidNextToken', 'The service returned an invalid NextToken.');
      qi = Number(m[1]);
      pi = Number(m[2]);
    } else {
      stats.metricsRequested += queries.length;
    }
    const results = [];
    let budget = state.maxDatapointsPerPage;
    let nextToken;
    for (; qi < queries.length; qi++, pi = 0) {
      const q = queries[qi];
      const series = findSeries(q.MetricStat.Metric);
      const override = series ? state.resultStatus[dimsKey(series.dimensions)] : undefined;
      let points = aggregate(series, startSec, endSec, q.MetricStat.Period, q.MetricStat.Stat);
      if (input.ScanBy !== 'TimestampAscending') points.reverse();
      if (override === 'InternalError' || override === 'Forbidden') {
        results.push({ Id: q.Id, Label: q.Label ?? 'EstimatedCharges', Timestamps: [], Values: [], StatusCode: override, Messages: [{ Code: override, Value: `fake ${override}` }] });
        continue;
      }
      points = points.slice(pi);
      const take = points.slice(0, budget);
      budget -= take.length;
      stats.datapointsReturned += take.length;
      const more = take.length < points.length;
      results.push({
        Id: q.Id,
        Label: q.Label ?? 'EstimatedCharges',
        Timestamps: take.map(([t]) => t),
        Values: take.map(([, v]) => v),
        StatusCode: more ? 'PartialData' : 'Complete',
      });
      if (more) {
        nextToken = `gmd-${qi}-${pi + take.length}`;
        break;
      }
      if (budget === 0 && qi + 1 < queries.length) {
        nextToken = `gmd-${qi + 1}-0`;
        break;
      }
    }
    const out = { MetricDataResults: results, Messages: [] };
    if (nextToken !== undefined) out.NextToken = nextToken;
    sendJson(res, out);
  };

  const getMetricStatistics = (input, res) => {
    stats.metricsRequested += 1;
    const series = findSeries({ Namespace: input.Namespace, MetricName: input.MetricName, Dimensions: input.Dimensions });
    const stat = (input.Statistics ?? [])[0] ?? 'Maximum';
    const points = aggregate(series, Number(input.StartTime), Number(input.EndTime), input.Period, stat);
    if (points.length > 1440) return sendError(res, 400, 'InvalidParameterCombination', 'You have requested up to 1,440 datapoints.');
    stats.datapointsReturned += points.length;
    sendJson(res, {
      Label: input.MetricName,
      Datapoints: points.map(([t, v]) => ({ Timestamp: t, [stat]: v, Unit: 'None' })),
    });
  };

  const server = createServer((req, res) => {
    // Like AWS, every answer carries the server's time: the SDK corrects its signing clock from it.
    res.setHeader('date', new Date(state.now()).toUTCString());
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const target = String(req.headers['x-amz-target'] ?? '');
      const op = target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
      requests.push({ op, headers: req.headers, body });
      if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith(JSON_TYPE) || op === undefined) {
        return sendError(
          res,
          400,
          'UnsupportedProtocol',
          `fake CloudWatch speaks AWS JSON 1.0 (SDK >= 3.949); got ${req.method} ${req.headers['content-type'] ?? 'no content-type'} target=${target || 'none'}`,
        );
      }
      if (req.headers['x-amzn-query-mode'] !== 'true') {
        return sendError(res, 400, 'UnsupportedProtocol', 'fake CloudWatch expects x-amzn-query-mode: true (awsQueryCompatible)');
      }
      const authProblem = checkSignature(req, body, state.credentials, state.now());
      if (authProblem) return sendError(res, ...authProblem);
      if (op in calls) calls[op]++;
      const fault = takeFault(op);
      if (fault) {
        switch (fault.kind) {
          case 'throttle':
            return sendError(res, 400, 'Throttling', 'Rate exceeded');
          case 'internal':
            return sendError(res, 500, 'InternalServiceError', 'Internal service error');
          case 'accessDenied':
            return sendError(res, 403, 'AccessDenied', `User: arn:aws:iam::123456789012:user/billing is not authorized to perform: cloudwatch:${op}`);
          case 'html': {
            const page = '<html><head><title>Proxy error</title></head><body><h1>Service unavailable</h1></body></html>';
            res.writeHead(fault.status ?? 200, { 'content-type': 'text/html', 'content-length': Buffer.byteLength(page) });
            return res.end(page);
          }
          case 'hang':
            // Keep the socket open and never answer; close() destroys it.
            hung.add(res);
            return;
          default:
            throw new Error(`unknown fault ${fault.kind}`);
        }
      }
      let input;
      try {
        input = JSON.parse(body || '{}');
      } catch {
        return sendError(res, 400, 'SerializationException', 'request body is not JSON');
      }
      if (op === 'ListMetrics') return listMetrics(input, res);
      if (op === 'GetMetricData') return getMetricData(input, res);
      if (op === 'GetMetricStatistics') return getMetricStatistics(input, res);
      return sendError(res, 400, 'InvalidAction', `The fake does not implement ${op}`);
    });
  });
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    requests,
    calls,
    stats,
    /** Queue `times` faults of `kind` for requests to `op` (any op when omitted). */
    fault(kind, o = {}) {
      for (let i = 0; i < (o.times ?? 1); i++) state.faults.push({ kind, op: o.op, status: o.status });
    },
    /** Requests that reached the fake with the given op (signed or not). */
    requestsFor: (op) => requests.filter((r) => r.op === op),
    reset() {
      requests.splice(0);
      for (const k of Object.keys(calls)) calls[k] = 0;
      stats.metricsRequested = 0;
      stats.datapointsReturned = 0;
      state.faults.splice(0);
      state.resultStatus = {};
    },
    async close() {
      for (const s of sockets) s.destroy();
      hung.clear();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

export { dimsKey };
