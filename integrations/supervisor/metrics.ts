/** Every metric supervisor emits: the README table and the live page titles come from this list. */
import type { MetricDoc } from '../../shared/core/integration.js';

const P = '<group>.<process>';

export const supervisorMetrics: readonly MetricDoc[] = [
  { name: `${P}.state.<state>`, type: 'counter', unit: 'count', description: 'Transitions into <state> (starting, running, backoff, stopping, stopped, exited, fatal, unknown)' },
  { name: `${P}.starts`, type: 'counter', unit: 'count', description: 'Every STARTING, whatever the reason' },
  { name: `${P}.restarts`, type: 'counter', unit: 'count', description: 'STARTING right after EXITED (autorestart) or BACKOFF (retry), not after an operator stop/start' },
  { name: `${P}.exits.expected`, type: 'counter', unit: 'count', description: 'EXITED with an exit code listed in exitcodes' },
  { name: `${P}.exits.unexpected`, type: 'counter', unit: 'count', description: 'EXITED with an exit code not in exitcodes (a crash). Operator stops are STOPPED, never counted here.' },
  { name: `${P}.backoff`, type: 'counter', unit: 'count', description: 'Died before startsecs: a failed start attempt' },
  { name: `${P}.fatal`, type: 'counter', unit: 'count', description: 'Gave up after startretries failed attempts' },
  { name: `${P}.up`, type: 'gauge', unit: '1', description: '1 while RUNNING, else 0; re-sent on every TICK' },
  { name: `${P}.state`, type: 'gauge', unit: '1', description: 'State code as XML-RPC reports it: STOPPED 0, STARTING 10, RUNNING 20, BACKOFF 30, STOPPING 40, EXITED 100, FATAL 200, UNKNOWN 1000' },
  { name: `${P}.uptime`, type: 'gauge', unit: 's', description: 'Seconds since RUNNING (0 otherwise); corrected from XML-RPC on resync' },
  { name: `${P}.backoff.tries`, type: 'gauge', unit: 'count', description: 'Failed start attempts in the current sequence; 0 once RUNNING' },
  { name: `${P}.start_time`, type: 'timer', unit: 'ms', description: 'Time in STARTING before RUNNING (about startsecs)' },
  { name: `${P}.backoff_time`, type: 'timer', unit: 'ms', description: 'From the first STARTING of a sequence that backed off to RUNNING or FATAL' },
  { name: `${P}.run_time`, type: 'timer', unit: 'ms', description: 'How long the process ran before it exited or was stopped' },
  { name: 'supervisord.processes.<state>', type: 'gauge', unit: 'count', description: 'Processes in each state, all eight states sent (zeros too) on every TICK' },
  { name: 'supervisord.up', type: 'gauge', unit: '1', description: '1 after SUPERVISOR_STATE_CHANGE_RUNNING, 0 after _STOPPING' },
  { name: 'supervisord.groups.added', type: 'counter', unit: 'count', description: 'PROCESS_GROUP_ADDED (start, `supervisorctl update`)' },
  { name: 'supervisord.groups.removed', type: 'counter', unit: 'count', description: 'PROCESS_GROUP_REMOVED' },
  { name: 'listener.events', type: 'counter', unit: 'count', description: 'Events received (every type, redeliveries included)' },
  { name: 'listener.unknown', type: 'counter', unit: 'count', description: 'Events of a type this version does not know; acknowledged anyway' },
  { name: 'listener.dropped', type: 'counter', unit: 'count', description: 'Events supervisord discarded (buffer overflow), from poolserial gaps' },
  { name: 'listener.redelivered', type: 'counter', unit: 'count', description: 'The same event (serial) received again (after a listener crash); counted once' },
  { name: 'listener.protocol_errors', type: 'counter', unit: 'count', description: 'Bytes on stdin that are not an event, or a damaged header' },
  { name: 'listener.lag', type: 'timer', unit: 'ms', description: 'Receive time minus the TICK `when`: how far behind the queue is' },
  { name: 'listener.resync.ok', type: 'counter', unit: 'count', description: 'Successful getAllProcessInfo resyncs' },
  { name: 'listener.resync.errors', type: 'counter', unit: 'count', description: 'Failed getAllProcessInfo resyncs (socket, auth, timeout); details on stderr' },
  { name: '<proc>[_<group>].<from_state>.process_state_<state>[.<suffix>]', type: 'datapoint', unit: 'count', description: 'compat: sulphite/both only — value 1 at the event time, Sulphite\'s exact name' },
  { name: '<proc>[_<group>].process_log_<stdout|stderr>[.<suffix>]', type: 'datapoint', unit: 'count', description: 'compat: sulphite/both only, when PROCESS_LOG is subscribed' },
];
