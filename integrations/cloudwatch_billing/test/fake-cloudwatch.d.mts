/** Types for fake-cloudwatch.mjs (plain JS so the benchmark can load it without a build). */

export interface Dimension {
  Name: string;
  Value: string;
}

export interface FakeSeries {
  dimensions: Dimension[];
  /** [unix seconds, value] as AWS received them (not bucketed). */
  points: [number, number][];
}

export interface FakeCredential {
  secretAccessKey: string;
  sessionToken?: string;
  expired?: boolean;
}

export type FaultKind = 'throttle' | 'internal' | 'accessDenied' | 'html' | 'hang';
export type Op = 'ListMetrics' | 'GetMetricData' | 'GetMetricStatistics';

export interface FakeState {
  credentials: Record<string, FakeCredential>;
  series: FakeSeries[];
  listPageSize: number;
  maxDatapointsPerPage: number;
  faults: { kind: FaultKind; op?: Op; status?: number }[];
  resultStatus: Record<string, 'InternalError' | 'Forbidden'>;
  now: () => number;
}

export interface RecordedRequest {
  op: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface FakeCloudWatch {
  url: string;
  state: FakeState;
  requests: RecordedRequest[];
  calls: Record<Op, number>;
  stats: { metricsRequested: number; datapointsReturned: number };
  fault(kind: FaultKind, o?: { op?: Op; times?: number; status?: number }): void;
  requestsFor(op: Op): RecordedRequest[];
  reset(): void;
  close(): Promise<void>;
}

export function startFakeCloudWatch(options?: {
  credentials?: Record<string, FakeCredential>;
  series?: FakeSeries[];
  listPageSize?: number;
  maxDatapointsPerPage?: number;
  now?: () => number;
}): Promise<FakeCloudWatch>;

export function billingDataset(o: {
  services: string[];
  accounts?: string[];
  endSec: number;
  hours?: number;
  everyHours?: number;
  currency?: string;
  rate?: (service: string, account: string | undefined) => number;
}): FakeSeries[];

export function dimsKey(dims: Dimension[] | undefined): string;
