/**
 * A bounded loopback load generator for the HTTP tests: a fixed list of requests, a fixed number
 * of keep-alive workers, every response body read to the end.
 */
import http from 'node:http';

export interface PlannedRequest {
  method: string;
  path: string;
}

/** Runs every planned request once; returns the statuses in plan order. */
export async function runLoad(port: number, plan: readonly PlannedRequest[], concurrency = 16): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const statuses = new Array<number>(plan.length);
  let next = 0;
  const one = (r: PlannedRequest): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (next < plan.length) {
      const i = next++;
      statuses[i] = await one(plan[i]!);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, worker));
  } finally {
    agent.destroy();
  }
  return statuses;
}
